package dev.diagonal.batch;

import dev.diagonal.model.ModelBundleFixture;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The job end to end on an embedded Spark: {@code local[2,3]} runs two tasks at a time and lets a failed
 * task run up to three times, and the test hook kills the first attempt of one clip mid-way.
 */
class BatchJobTest {
    @TempDir
    Path dir;

    private static final String[] PROMPTS = {"a red circle moving right", "a blue square moving up", "a green circle"};

    @Test
    void aJobWithAKilledTaskEndsWithEveryClipOnceAndAsGenerateMakesIt() throws Exception {
        Path model = ModelBundleFixture.write(dir.resolve("model"));
        Path prompts = dir.resolve("prompts.jsonl");
        Files.writeString(prompts, String.join("\n",
                "{\"prompt\": \"" + PROMPTS[0] + "\", \"seed\": 1}",
                "{\"prompt\": \"" + PROMPTS[1] + "\", \"seed\": 2}",
                "{\"prompt\": oops}",
                "{\"prompt\": \"" + PROMPTS[2] + "\"}",
                "{\"prompt\": \"" + PROMPTS[0] + "\", \"seed\": 1}", ""));
        Path out = dir.resolve("out");
        int modelsBefore = ExecutorModels.models();

        Result first = batch("--prompts", prompts.toString(), "--out", out.toString(), "--master", "local[2,3]",
                "--on-bad-line", "skip", "--eval", "--seed", "5", "--model", model.toString(), "--no-prompt-cache",
                "--fail-first-attempt", "2:7");
        assertEquals(0, first.code, first.err);
        assertTrue(first.err.contains(prompts + ":3: not JSON"), first.err);
        assertTrue(first.out.contains("batch: 3 clips from 5 lines"), first.out);
        assertTrue(first.out.contains("(1 bad, 1 repeated)"), first.out);
        assertTrue(first.out.contains("3 clips in the table (3 made now, 0 done before)"), first.out);
        // One model for the whole job on this (the only) executor, at most one generator per task slot.
        assertEquals(modelsBefore + 1, ExecutorModels.models());

        // Every clip once, nothing half-written anywhere, each the clip a single-machine generate writes.
        List<Path> clips = list(out.resolve("clips"));
        assertEquals(3, clips.size(), clips.toString());
        assertEquals(3, list(out.resolve("rows")).size());
        try (Stream<Path> all = Files.walk(out)) {
            assertFalse(all.anyMatch(p -> p.toString().endsWith(".partial") || p.toString().contains(ClipTask.ATTEMPTS + "/")),
                    "no partial or attempt files left");
        }
        Map<String, Row> byPrompt = new HashMap<>();
        try (SparkSession spark = SparkSession.builder().master("local[1]").config("spark.ui.enabled", "false").getOrCreate()) {
            for (Row r : spark.read().parquet(out.resolve(BatchJob.TABLE).toString()).collectAsList()) {
                byPrompt.put(r.getAs("prompt"), r);
            }
        }
        assertEquals(3, byPrompt.size());
        long[] seeds = {1, 2, 5};
        for (int i = 0; i < 3; i++) {
            Row r = byPrompt.get(PROMPTS[i]);
            assertEquals(seeds[i], (long) r.getAs("seed"));
            assertEquals(i == 1 ? 1 : 0, (int) r.getAs("attempt"), "line 2's first attempt was killed: " + r);
            assertEquals(21L, (long) r.getAs("frames"));
            assertEquals(false, r.getAs("resumed"));
            assertTrue(((String) r.getAs("settings")).startsWith("2 chunks x 3 latent frames at 4x4"), r.toString());
            Path ref = dir.resolve("ref" + i + ".y4m");
            generate(model, PROMPTS[i], seeds[i], ref);
            assertArrayEquals(Files.readAllBytes(ref), Files.readAllBytes(out.resolve((String) r.getAs("path"))), PROMPTS[i]);
        }

        // A rerun makes nothing: every clip is found done, its file untouched, its row back in the table.
        Map<Path, FileTime> times = new HashMap<>();
        for (Path c : clips) {
            times.put(c, Files.getLastModifiedTime(c));
        }
        Result again = batch("--prompts", prompts.toString(), "--out", out.toString(), "--master", "local[2]",
                "--on-bad-line", "skip", "--eval", "--seed", "5", "--model", model.toString(), "--no-prompt-cache");
        assertEquals(0, again.code, again.err);
        assertTrue(again.out.contains("3 clips in the table (0 made now, 3 done before)"), again.out);
        for (Path c : clips) {
            assertEquals(times.get(c), Files.getLastModifiedTime(c), c.toString());
        }
    }

    @Test
    void badInputFailsBeforeAnyTaskRuns() throws Exception {
        Path model = ModelBundleFixture.write(dir.resolve("model"));
        Path prompts = dir.resolve("prompts.jsonl");
        Files.writeString(prompts, "{\"prompt\": \"a red circle\"}\n{\"prompt\": \"a red circle\", \"seed\": \"one\"}\n");
        Path out = dir.resolve("out");

        Result bad = batch("--prompts", prompts.toString(), "--out", out.toString(), "--model", model.toString());
        assertEquals(2, bad.code);
        assertTrue(bad.err.contains(prompts + ":2: \"seed\" must be an integer"), bad.err);
        assertTrue(bad.err.contains("1 bad line in " + prompts), bad.err);

        Result missing = batch("--prompts", prompts.toString(), "--out", out.toString(), "--on-bad-line", "skip",
                "--model", dir.resolve("nowhere").toString());
        assertEquals(2, missing.code);
        assertTrue(missing.err.contains("model.json is missing"), missing.err);

        Result usage = batch("--prompts", prompts.toString(), "--model", model.toString());
        assertEquals(2, usage.code);
        assertTrue(usage.err.contains("--prompts and --out are required"), usage.err);
        assertFalse(Files.exists(out), "nothing was written");
    }

    private record Result(int code, String out, String err) {
    }

    private static Result batch(String... argv) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = BatchMain.run(argv, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    /** The single-machine reference: 'diagonal generate' in a fresh JVM, as a user runs it. */
    private static void generate(Path model, String prompt, long seed, Path out) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), "dev.diagonal.cli.Main", "generate", prompt,
                "--model", model.toString(), "--seed", Long.toString(seed), "--threads", "1", "--no-prompt-cache",
                "--out", out.toString()));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), log);
    }

    private static List<Path> list(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.sorted().toList();
        }
    }
}
