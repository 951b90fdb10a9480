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
 * the colour palette the vision code classifies against, and optionally the plain background colours
 * ({@code backgrounds}) a prompt's {@code background} names, so a tinted background shows in the figures.
 */
public record EvalPrompts(Map<String, double[]> palette, Map<String, double[]> backgrounds, List<Prompt> prompts,
                          List<Prompt> seen) {

    /** One caption and what a faithful video of it shows; background is null where the set names none. */
    public record Prompt(String caption, String colour, String shape, String direction, String background) {
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
        Map<String, double[]> palette = colours(pal, "palette", file);
        Object bgs = top.get("backgrounds");
        if (bgs != null && !(bgs instanceof Map<?, ?>)) {
            throw new IOException(file + ": 'backgrounds' must be an object");
        }
        Map<String, double[]> backgrounds = bgs == null ? Map.of() : colours((Map<?, ?>) bgs, "backgrounds", file);
        List<Prompt> prompts = prompts(list, "prompts", palette, backgrounds, file);
        if (prompts.isEmpty()) {
            throw new IOException(file + ": no prompts");
        }
        Object seen = top.get("seen");
        if (seen != null && !(seen instanceof List<?>)) {
            throw new IOException(file + ": 'seen' must be an array");
        }
        return new EvalPrompts(Map.copyOf(palette), Map.copyOf(backgrounds), prompts,
                seen == null ? List.of() : prompts((List<?>) seen, "seen", palette, backgrounds, file));
    }

    private static Map<String, double[]> colours(Map<?, ?> map, String key, Path file) throws IOException {
        Map<String, double[]> colours = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : map.entrySet()) {
            if (!(e.getValue() instanceof List<?> rgb) || rgb.size() != 3) {
                throw new IOException(file + ": " + key + "." + e.getKey() + " must be [r, g, b]");
            }
            double[] c = new double[3];
            for (int i = 0; i < 3; i++) {
                c[i] = number(rgb.get(i), file, key + "." + e.getKey());
            }
            colours.put((String) e.getKey(), c);
        }
        return colours;
    }

    private static List<Prompt> prompts(List<?> list, String key, Map<String, double[]> palette,
                                        Map<String, double[]> backgrounds, Path file) throws IOException {
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
            Object background = p.get("background");
            if (background != null && !(background instanceof String b && backgrounds.containsKey(b))) {
                throw new IOException(where + " asks for background " + background + ", not in 'backgrounds'");
            }
            prompts.add(new Prompt(caption, colour, shape, direction, (String) background));
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
