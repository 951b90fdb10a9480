package dev.diagonal.eval;

import dev.diagonal.io.Json;
import dev.diagonal.io.SafetensorsException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The evaluation set a model directory ships ({@code eval.json}, written by tools/train/export.py): the
 * held-out captions with the colour, shape and direction each asks for, optionally as many captions of
 * pairs seen in training ({@code seen}: they tell "cannot draw it" from "cannot compose an unseen pair"),
 * and the colour palette the vision code classifies against.
 */
public record EvalPrompts(Map<String, double[]> palette, List<Prompt> prompts, List<Prompt> seen) {

    /** One caption and what a faithful video of it shows. */
    public record Prompt(String caption, String colour, String shape, String direction) {
    }

    public static EvalPrompts load(Path file) throws IOException {
        Object root;
        try {
            root = Json.parse(Files.readString(file), file);
        } catch (SafetensorsException e) {
            throw new IOException(file + ": " + e.getMessage(), e);
        }
        if (!(root instanceof Map<?, ?> top) || !(top.get("palette") instanceof Map<?, ?> pal)
                || !(top.get("prompts") instanceof List<?> list)) {
            throw new IOException(file + ": expected an object with 'palette' (an object) and 'prompts' (an array)");
        }
        Map<String, double[]> palette = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : pal.entrySet()) {
            if (!(e.getValue() instanceof List<?> rgb) || rgb.size() != 3) {
                throw new IOException(file + ": palette." + e.getKey() + " must be [r, g, b]");
            }
            double[] c = new double[3];
            for (int i = 0; i < 3; i++) {
                c[i] = number(rgb.get(i), file, "palette." + e.getKey());
            }
            palette.put((String) e.getKey(), c);
        }
        List<Prompt> prompts = prompts(list, "prompts", palette, file);
        if (prompts.isEmpty()) {
            throw new IOException(file + ": no prompts");
        }
        Object seen = top.get("seen");
        if (seen != null && !(seen instanceof List<?>)) {
            throw new IOException(file + ": 'seen' must be an array");
        }
        return new EvalPrompts(Map.copyOf(palette), prompts,
                seen == null ? List.of() : prompts((List<?>) seen, "seen", palette, file));
    }

    private static List<Prompt> prompts(List<?> list, String key, Map<String, double[]> palette, Path file)
            throws IOException {
        List<Prompt> prompts = new ArrayList<>();
        for (Object o : list) {
            String where = file + ": " + key + "[" + prompts.size() + "]";
            if (!(o instanceof Map<?, ?> p) || !(p.get("caption") instanceof String caption)
                    || !(p.get("colour") instanceof String colour) || !(p.get("shape") instanceof String shape)
                    || !(p.get("direction") instanceof String direction)) {
                throw new IOException(where + " needs string caption, colour, shape, direction");
            }
            if (!palette.containsKey(colour)) {
                throw new IOException(where + " asks for colour '" + colour + "', not in the palette");
            }
            prompts.add(new Prompt(caption, colour, shape, direction));
        }
        return List.copyOf(prompts);
    }

    private static double number(Object o, Path file, String where) throws IOException {
        if (o instanceof Long l) {
            return l;
        }
        if (o instanceof Json.Num n) {
            return Double.parseDouble(n.text());
        }
        throw new IOException(file + ": " + where + " must hold numbers");
    }
}
