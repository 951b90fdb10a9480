package dev.diagonal.batch;

import dev.diagonal.io.Json;
import dev.diagonal.io.SafetensorsException;
import dev.diagonal.io.Strings;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

import java.io.IOException;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;

/**
 * One clip's row of the results table: what was asked, where the video is, how it was made and how long it
 * took, and its eval figures when the job was asked for them (null otherwise). Each clip's row is also kept
 * beside its video as JSON ({@link ClipSpec#rowPath()}), written after the video, so a rerun knows the clip
 * is done and can put its row back in the table without making it again.
 *
 * @param path          the video, relative to the job's output directory
 * @param settings      the stream: chunks, latent size, schedule, context rule, KV cache
 * @param encodeSeconds prompt encoding (or the prompt cache)
 * @param warmUpSeconds the generator's warm-up, paid by the first clip a generator makes (0 for the others)
 * @param renderSeconds DiT stream and VAE decode, frames written as they came
 * @param framesPerSecond video frames per second of encode + render
 * @param executor      the Spark executor that made it, and {@code attempt} the task attempt (0: first try)
 * @param resumed       true when this run found the clip done by an earlier run (not stored in the JSON)
 */
public record ResultRow(String id, int line, String prompt, long seed, String path, String model, String settings,
                        int width, int height, int fps, long frames, double encodeSeconds, double warmUpSeconds,
                        double renderSeconds, double decodeSeconds, double framesPerSecond, String executor,
                        int attempt, boolean resumed, ClipFigures figures) implements Serializable {

    /** The table's schema; column names are snake_case for SQL. */
    public static final StructType SCHEMA = new StructType()
            .add("id", DataTypes.StringType, false)
            .add("line", DataTypes.IntegerType, false)
            .add("prompt", DataTypes.StringType, false)
            .add("seed", DataTypes.LongType, false)
            .add("path", DataTypes.StringType, false)
            .add("model", DataTypes.StringType, false)
            .add("settings", DataTypes.StringType, false)
            .add("width", DataTypes.IntegerType, false)
            .add("height", DataTypes.IntegerType, false)
            .add("fps", DataTypes.IntegerType, false)
            .add("frames", DataTypes.LongType, false)
            .add("encode_s", DataTypes.DoubleType, false)
            .add("warmup_s", DataTypes.DoubleType, false)
            .add("render_s", DataTypes.DoubleType, false)
            .add("decode_s", DataTypes.DoubleType, false)
            .add("frames_per_s", DataTypes.DoubleType, false)
            .add("executor", DataTypes.StringType, false)
            .add("attempt", DataTypes.IntegerType, false)
            .add("resumed", DataTypes.BooleanType, false)
            .add("colour", DataTypes.StringType, true)
            .add("shape", DataTypes.StringType, true)
            .add("direction", DataTypes.StringType, true)
            .add("speed_px_per_frame", DataTypes.DoubleType, true);

    /** This row as a Spark row of {@link #SCHEMA}. */
    public Row toRow() {
        ClipFigures f = figures;
        return RowFactory.create(id, line, prompt, seed, path, model, settings, width, height, fps, frames, encodeSeconds,
                warmUpSeconds, renderSeconds, decodeSeconds, framesPerSecond, executor, attempt, resumed,
                f == null ? null : f.colour(), f == null ? null : f.shape(), f == null ? null : f.direction(),
                f == null || Double.isNaN(f.speed()) ? null : f.speed());
    }

    /** The same row as found again by a later run. */
    public ResultRow asResumed(int line) {
        return new ResultRow(id, line, prompt, seed, path, model, settings, width, height, fps, frames, encodeSeconds,
                warmUpSeconds, renderSeconds, decodeSeconds, framesPerSecond, executor, attempt, true, figures);
    }

    /**
     * Writes the row as JSON to {@code target} through {@code temp} (unique to the writing attempt) and an
     * atomic rename, so a reader sees the whole row or none.
     */
    public void write(Path target, Path temp) throws IOException {
        Files.writeString(temp, toJson(), StandardCharsets.UTF_8);
        try {
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("the output directory's filesystem cannot rename atomically (" + target
                    + "); batch needs a POSIX-like one (local, NFS, Lustre, HDFS-FUSE...)", e);
        }
    }

    /** Reads a row written by {@link #write}. */
    public static ResultRow read(Path file) throws IOException {
        Object v;
        try {
            v = Json.parse(Files.readString(file, StandardCharsets.UTF_8), file);
        } catch (SafetensorsException e) {
            throw new IOException("result row " + file + " is not JSON: " + e.getMessage(), e);
        }
        if (!(v instanceof Map<?, ?> m)) {
            throw new IOException("result row " + file + " is not a JSON object");
        }
        try {
            ClipFigures figures = m.containsKey("speed_px_per_frame") ? new ClipFigures(text(m, "colour"), text(m, "shape"),
                    text(m, "direction"), number(m, "speed_px_per_frame")) : null;
            return new ResultRow((String) m.get("id"), (int) (long) (Long) m.get("line"), (String) m.get("prompt"),
                    (Long) m.get("seed"), (String) m.get("path"), (String) m.get("model"), (String) m.get("settings"),
                    (int) (long) (Long) m.get("width"), (int) (long) (Long) m.get("height"), (int) (long) (Long) m.get("fps"),
                    (Long) m.get("frames"), number(m, "encode_s"), number(m, "warmup_s"), number(m, "render_s"),
                    number(m, "decode_s"), number(m, "frames_per_s"), (String) m.get("executor"),
                    (int) (long) (Long) m.get("attempt"), false, figures);
        } catch (ClassCastException | NullPointerException e) {
            throw new IOException("result row " + file + " lacks a field or has one of the wrong type", e);
        }
    }

    String toJson() {
        StringBuilder sb = new StringBuilder("{");
        field(sb, "id", id).field(sb, "line", line).field(sb, "prompt", prompt).field(sb, "seed", seed)
                .field(sb, "path", path).field(sb, "model", model).field(sb, "settings", settings)
                .field(sb, "width", width).field(sb, "height", height).field(sb, "fps", fps).field(sb, "frames", frames)
                .field(sb, "encode_s", encodeSeconds).field(sb, "warmup_s", warmUpSeconds).field(sb, "render_s", renderSeconds)
                .field(sb, "decode_s", decodeSeconds).field(sb, "frames_per_s", framesPerSecond)
                .field(sb, "executor", executor).field(sb, "attempt", attempt);
        if (figures != null) {
            field(sb, "colour", figures.colour()).field(sb, "shape", figures.shape()).field(sb, "direction", figures.direction())
                    .field(sb, "speed_px_per_frame", figures.speed());
        }
        sb.setLength(sb.length() - 1);
        return sb.append("}\n").toString();
    }

    private ResultRow field(StringBuilder sb, String key, Object value) {
        Strings.appendJsonString(sb, key);
        sb.append(':');
        switch (value) {
            case null -> sb.append("null");
            case String s -> Strings.appendJsonString(sb, s);
            // JSON has no NaN: an unmeasured speed (no object found) is null.
            case Double d -> sb.append(Double.isFinite(d) ? Double.toString(d) : "null");
            default -> sb.append(value);
        }
        sb.append(',');
        return this;
    }

    private static String text(Map<?, ?> m, String key) {
        return m.get(key) instanceof String s ? s : null;
    }

    private static double number(Map<?, ?> m, String key) {
        return switch (m.get(key)) {
            case Long l -> l;
            case Json.Num n -> Double.parseDouble(n.text());
            case null, default -> Double.NaN;
        };
    }
}
