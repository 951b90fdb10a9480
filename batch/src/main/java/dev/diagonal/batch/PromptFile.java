package dev.diagonal.batch;

import dev.diagonal.io.Json;
import dev.diagonal.io.SafetensorsException;

import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A prompt file: JSON Lines, one clip per line, {@code {"prompt": "...", "seed": 7}} ({@code seed} optional:
 * the job's {@code --seed} then). Blank lines are allowed; every other line that is not such an object is a
 * bad line, kept with its 1-based line number and what is wrong with it, for the job to report.
 *
 * @param lines the good lines, in file order
 * @param bad   the bad lines, in file order
 */
public record PromptFile(Path file, List<Line> lines, List<BadLine> bad) {
    private static final Set<String> KEYS = Set.of("prompt", "seed");

    /** One clip asked for: its line in the file, the prompt and the noise seed. */
    public record Line(int number, String prompt, long seed) {
    }

    /** A line that asks for no clip, and why. */
    public record BadLine(int number, String reason) {
        /** {@code file:line: reason}, as compilers report. */
        public String describe(Path file) {
            return file + ":" + number + ": " + reason;
        }
    }

    /** Reads and checks every line; throws only when the file itself cannot be read. */
    public static PromptFile read(Path file, long defaultSeed) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new IOException("prompt file " + file + " does not exist");
        }
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (CharacterCodingException e) {
            throw new IOException("prompt file " + file + " is not UTF-8 text", e);
        }
        return parse(file, text, defaultSeed);
    }

    static PromptFile parse(Path file, String text, long defaultSeed) {
        List<Line> lines = new ArrayList<>();
        List<BadLine> bad = new ArrayList<>();
        // A byte-order mark, which some editors write at the start of UTF-8 files, is not part of line 1.
        String[] rows = (text.startsWith("\uFEFF") ? text.substring(1) : text).split("\r?\n", -1);
        for (int i = 0; i < rows.length; i++) {
            String row = rows[i].strip();
            if (row.isEmpty()) {
                continue;
            }
            try {
                lines.add(line(i + 1, row, defaultSeed));
            } catch (IllegalArgumentException e) {
                bad.add(new BadLine(i + 1, e.getMessage()));
            }
        }
        return new PromptFile(file, List.copyOf(lines), List.copyOf(bad));
    }

    private static Line line(int number, String row, long defaultSeed) {
        Object value;
        try {
            value = Json.parse(row, null);
        } catch (SafetensorsException e) {
            throw new IllegalArgumentException("not JSON: " + detail(e));
        }
        if (!(value instanceof Map<?, ?> map)) {
            throw new IllegalArgumentException("expected a JSON object {\"prompt\": ..., \"seed\": ...}");
        }
        for (Object key : map.keySet()) {
            if (!KEYS.contains(key)) {
                throw new IllegalArgumentException("unknown key '" + key + "' (a line has \"prompt\" and, optionally, \"seed\")");
            }
        }
        if (!(map.get("prompt") instanceof String prompt)) {
            throw new IllegalArgumentException(map.containsKey("prompt") ? "\"prompt\" must be a string" : "no \"prompt\"");
        }
        Object seed = map.get("seed");
        if (seed != null && !(seed instanceof Long)) {
            throw new IllegalArgumentException("\"seed\" must be an integer, got " + seed);
        }
        return new Line(number, prompt, seed == null ? defaultSeed : (Long) seed);
    }

    // The parser was written for safetensors headers and says so in its message: keep only what is wrong.
    private static String detail(SafetensorsException e) {
        String m = e.getMessage();
        int start = m.indexOf(": ");
        int end = m.lastIndexOf(" [");
        String detail = start >= 0 && end > start ? m.substring(start + 2, end) : m;
        return detail.replace("header JSON", "JSON");
    }
}
