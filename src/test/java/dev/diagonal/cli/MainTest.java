package dev.diagonal.cli;

import dev.diagonal.io.SafetensorsFile;
import dev.diagonal.model.ModelBundleFixture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

class MainTest {
    @TempDir
    Path dir;

    @Test
    void flagsArePinned() {
        assertEquals(Set.of("model", "config", "weights", "weight-dtype", "seed", "threads", "device", "prompt-embedding", "chunks",
                "chunk-frames", "latent-height", "latent-width", "schedule", "context", "window", "sink", "out",
                "prompt", "text-encoder", "text-config", "tokenizer", "prompt-cache", "family", "lora"),
                GenerateLatentsCommand.VALUED);
        assertEquals(Set.of("random-weights", "help", "no-prompt-cache"), GenerateLatentsCommand.SWITCHES);
    }

    @Test
    void generatesLatentsAndReportsEvaluations() throws Exception {
        Path out = dir.resolve("l.safetensors");
        Result r = run("generate-latents", "--chunks", "3", "--seed", "4", "--threads", "1", "--out", out.toString());
        assertEquals(0, r.code, r.err);
        assertTrue(r.out.contains("chunk 3/3"), r.out);
        assertTrue(r.out.contains("9 network evaluations"), r.out);
        try (SafetensorsFile f = SafetensorsFile.open(out)) {
            assertArrayEquals(new long[]{16, 9, 8, 8}, f.tensor("latents").shape());
            assertEquals("9", f.metadata().get("network_evaluations"));
        }
    }

    @Test
    void badArgumentsFailWithASpecificMessageAndWriteNothing() {
        Path out = dir.resolve("never.safetensors");
        assertBad("unknown flag --chunk", "generate-latents", "--chunk", "3", "--out", out.toString());
        assertBad("--chunks must be in", "generate-latents", "--chunks", "0", "--out", out.toString());
        assertBad("must be an integer", "generate-latents", "--seed", "x", "--out", out.toString());
        assertBad("unknown schedule", "generate-latents", "--schedule", "fast", "--out", out.toString());
        assertBad("unknown context rule", "generate-latents", "--context", "clean", "--out", out.toString());
        assertBad("strictly decreasing", "generate-latents", "--schedule", "1000,500,700", "--out", out.toString());
        assertBad("cannot hold a sink", "generate-latents", "--window", "3", "--sink", "1", "--out", out.toString());
        assertBad("unknown model config", "generate-latents", "--config", "14b", "--out", out.toString());
        assertBad("unknown command", "render");
        assertFalse(Files.exists(out));
    }

    @Test
    void generateDecodesEachChunkIntoTheVideoFile() throws Exception {
        Path video = dir.resolve("v.y4m");
        Path latents = dir.resolve("l.safetensors");
        Result r = run("generate", "--chunks", "2", "--threads", "1", "--out", video.toString(), "--latents",
                latents.toString());
        assertEquals(0, r.code, r.err);
        assertTrue(r.out.contains("chunk 2/2 | 21/21 frames"), r.out);
        assertTrue(r.out.contains("7 network evaluations"), r.out);
        assertTrue(r.out.contains("warm-up: 3 streams of 2 chunks at 8x8 latents"), r.out);
        assertTrue(r.out.contains("stream: 21 frames in"), r.out);
        // 6 latent frames -> 1 + 4·5 = 21 frames of 64x64, Y4M 4:4:4
        String header = "YUV4MPEG2 W64 H64 F16:1 Ip A1:1 C444 XCOLORRANGE=LIMITED\n";
        assertEquals(header.length() + 21L * (6 + 3 * 64 * 64), Files.size(video));
        try (SafetensorsFile f = SafetensorsFile.open(latents)) {
            assertArrayEquals(new long[]{16, 6, 8, 8}, f.tensor("latents").shape());
        }
        Result only = run("generate", "--chunks", "1", "--threads", "1", "--latents-only", "--warmup", "0", "--out",
                dir.resolve("only.safetensors").toString());
        assertEquals(0, only.code, only.err);
        assertFalse(only.out.contains("warm-up"), only.out);
        assertFalse(only.out.contains("vae:"), only.out);
        assertTrue(Files.exists(dir.resolve("only.safetensors")));
    }

    @Test
    void tinyDecoderGivesTheSameVideoShapeAsTheVae() throws Exception {
        Path vae = dir.resolve("vae.y4m"), tiny = dir.resolve("tiny.y4m");
        Result a = run("generate", "--chunks", "2", "--threads", "1", "--warmup", "0", "--out", vae.toString());
        Result b = run("generate", "--chunks", "2", "--threads", "1", "--warmup", "0", "--decoder", "tiny", "--out",
                tiny.toString());
        assertEquals(0, a.code, a.err);
        assertEquals(0, b.code, b.err);
        // random weights in TAEHV's shape scaled to the tiny VAE's width, decoding to the same frames
        assertTrue(b.out.contains("decoder: tiny: random F32 weights (seed 0) for config tiny-tiny [11, 5, 4, 4] wide"), b.out);
        assertTrue(b.out.contains("chunk 2/2 | 21/21 frames"), b.out);
        assertEquals(Files.size(vae), Files.size(tiny));
        assertBad("--decoder must be vae or tiny", "generate", "--decoder", "taehv", "--out", vae.toString());
        assertBad("which --decoder tiny does not read", "generate", "--decoder", "tiny", "--vae", "x.safetensors",
                "--out", vae.toString());
    }

    @Test
    void decodingOnItsOwnThreadWritesTheSameVideo() throws Exception {
        Path between = dir.resolve("between.y4m"), beside = dir.resolve("beside.y4m");
        Result a = run("generate", "--chunks", "3", "--threads", "2", "--decode-threads", "0", "--warmup", "0",
                "--out", between.toString());
        Result b = run("generate", "--chunks", "3", "--threads", "2", "--warmup", "0", "--out", beside.toString());
        assertEquals(0, a.code, a.err);
        assertEquals(0, b.code, b.err);
        assertFalse(a.out.contains("decoding: on a thread of its own"), a.out);
        // the default for a small DiT on two threads: one for the DiT, one for the decoder
        assertTrue(b.out.contains("backend: cpu: ") && b.out.contains(", 1 thread"), b.out);
        assertTrue(b.out.contains("decoding: on a thread of its own while the DiT works"), b.out);
        assertTrue(b.out.contains("chunk 3/3 | 33/33 frames"), b.out);
        assertArrayEquals(Files.readAllBytes(between), Files.readAllBytes(beside));
        assertBad("leaves the DiT none of --threads 2", "generate", "--threads", "2", "--decode-threads", "2",
                "--out", between.toString());
        assertBad("is for the CPU backend", "generate", "--device", "cuda", "--decode-threads", "1", "--out",
                between.toString());
    }

    @Test
    void generateRefusesWhatItCannotDoBeforeWorking() {
        Path out = dir.resolve("v.y4m");
        assertBad("not both", "generate", "a red circle", "--prompt-embedding", "x.safetensors", "--out", out.toString());
        assertBad("makes width 4096", "generate", "a red circle", "--text-config", "umt5-xxl", "--out", out.toString());
        assertBad("use a .y4m or .mp4 file", "generate", "--out", dir.resolve("v.avi").toString());
        assertBad("--vae-config must be", "generate", "--vae-config", "sd", "--out", out.toString());
        assertBad("--fps must be in", "generate", "--fps", "0", "--out", out.toString());
        Result r = run("generate", "--chunks", "1", "--vae", dir.resolve("vae.safetensors").toString(), "--out",
                out.toString());
        assertEquals(1, r.code);
        assertTrue(r.err.contains("vae.safetensors"), r.err);
        assertFalse(Files.exists(out));
        assertFalse(Files.exists(dir.resolve("v.y4m.partial")));
    }

    @Test
    void promptTextIsEncodedOnceThenServedFromTheCache() throws Exception {
        Path cache = dir.resolve("cache");
        String[] argv = {"generate-latents", "a red circle moving right", "--chunks", "1", "--threads", "1",
                "--prompt-cache", cache.toString(), "--out", dir.resolve("l.safetensors").toString()};
        Result first = run(argv);
        assertEquals(0, first.code, first.err);
        assertTrue(first.out.contains("prompt: 8 tokens encoded by tiny (random weights)"), first.out);
        assertTrue(first.out.contains("prompt needs 26 tokens; kept the first 8"), first.out);
        Result second = run(argv);
        assertEquals(0, second.code, second.err);
        assertTrue(second.out.contains("context from the cache"), second.out);
        assertEquals(1, Files.list(cache).count());
        // the same prompt gives the same latents either way
        Result third = run("generate-latents", "--prompt", "a red circle moving right", "--chunks", "1", "--threads", "1",
                "--no-prompt-cache", "--out", dir.resolve("l2.safetensors").toString());
        assertEquals(0, third.code, third.err);
        assertArrayEquals(Files.readAllBytes(dir.resolve("l.safetensors")), Files.readAllBytes(dir.resolve("l2.safetensors")));
    }

    @Test
    void encodePromptWritesAContextTheStreamReads() throws Exception {
        Path ctx = dir.resolve("ctx.safetensors");
        Result r = run("encode-prompt", "--prompt", "a blue square", "--text-config", "tiny", "--text-len", "8",
                "--no-prompt-cache", "--threads", "1", "--out", ctx.toString());
        assertEquals(0, r.code, r.err);
        try (SafetensorsFile f = SafetensorsFile.open(ctx)) {
            assertArrayEquals(new long[]{8, 32}, f.tensor("context").shape());
            assertEquals("a blue square", f.metadata().get("prompt"));
        }
        Result g = run("generate-latents", "--prompt-embedding", ctx.toString(), "--chunks", "1", "--threads", "1",
                "--out", dir.resolve("l.safetensors").toString());
        assertEquals(0, g.code, g.err);
        assertBad("needs --prompt", "encode-prompt", "--out", ctx.toString());
        assertBad("unknown text encoder config", "encode-prompt", "--prompt", "x", "--text-config", "t5-xl");
    }

    @Test
    void missingWeightsFileIsNamed() {
        Path missing = dir.resolve("nope.safetensors");
        Result r = run("generate-latents", "--weights", missing.toString(), "--out", dir.resolve("x").toString());
        assertEquals(1, r.code);
        assertTrue(r.err.contains("nope.safetensors"), r.err);
    }

    @Test
    void aModelDirectoryBringsItsConfigsWeightsAndStreamSettings() throws Exception {
        Path model = ModelBundleFixture.write(dir.resolve("weights"));
        Path video = dir.resolve("v.y4m");
        Result r = run(model, "generate", "a red circle", "--threads", "1", "--no-prompt-cache", "--out", video.toString());
        assertEquals(0, r.code, r.err);
        assertTrue(r.out.contains("model fixture from"), r.out);
        assertTrue(r.out.contains("prompt: 8 tokens encoded by fixture-t5"), r.out);
        // The fixture's stream: 2 chunks of 3 latent frames at 4x4, a 6-frame window, Wan's 4x time: 21 frames of 32x32.
        assertTrue(r.out.contains("video: 21 frames at 32x32, 12 fps"), r.out);
        assertTrue(Files.size(video) > 21 * 32 * 32 * 3, "y4m holds every frame");

        Result bare = run(model, "generate-latents", "--config", "tiny", "--chunks", "1", "--threads", "1",
                "--out", dir.resolve("l.safetensors").toString());
        assertEquals(0, bare.code, bare.err);
        assertTrue(bare.out.contains("weights: random"), "a bare config ignores the model directory: " + bare.out);

        assertEquals(2, run(model, "generate", "--model", model.toString(), "--config", "tiny").code);
        Result missing = run((Path) null, "generate", "--model", dir.resolve("nowhere").toString());
        assertEquals(1, missing.code);
        assertTrue(missing.err.contains("model.json is missing"), missing.err);
    }

    @Test
    void theShippedModelLoadsStrictlyAndStreams() throws Exception {
        // weights/ is what a fresh clone runs: its model.json, checkpoints and eval set must stay consistent.
        Path out = dir.resolve("shipped.safetensors");
        Result r = run(Path.of("weights"), "generate-latents", "a red circle moving right", "--chunks", "2",
                "--threads", "1", "--no-prompt-cache", "--out", out.toString());
        assertEquals(0, r.code, r.err);
        assertTrue(r.out.contains("model diagonal-shapes-64"), r.out);
        assertTrue(r.out.contains("2 chunks x 3 latent frames at 16x16"), r.out);
        try (SafetensorsFile f = SafetensorsFile.open(out)) {
            assertArrayEquals(new long[]{16, 6, 16, 16}, f.tensor("latents").shape());
        }
        assertEquals(24, dev.diagonal.eval.EvalPrompts.load(Path.of("weights", "eval.json")).prompts().size());
    }

    @Test
    void evalScoresTheHeldOutPromptsThroughTheJavaEngine() throws Exception {
        Path model = ModelBundleFixture.write(dir.resolve("weights"));
        Path videos = dir.resolve("eval-videos");
        Result r = run(model, "eval", "--threads", "1", "--long", "3", "--videos", videos.toString());
        assertEquals(0, r.code, r.err);
        // the scored videos, short and long, one each per prompt, held-out first, each a whole Y4M file
        try (var files = Files.list(videos)) {
            assertEquals(List.of("00-a-red-circle-moving-left-on-a-black-background-long.y4m",
                    "00-a-red-circle-moving-left-on-a-black-background.y4m",
                    "01-a-blue-square-moving-up-on-a-gray-background-long.y4m",
                    "01-a-blue-square-moving-up-on-a-gray-background.y4m",
                    "02-a-blue-circle-moving-down-on-a-black-background-long.y4m",
                    "02-a-blue-circle-moving-down-on-a-black-background.y4m"),
                    files.map(f -> f.getFileName().toString()).sorted().toList());
        }
        long shortBytes = Files.size(videos.resolve("00-a-red-circle-moving-left-on-a-black-background.y4m"));
        long longBytes = Files.size(videos.resolve("00-a-red-circle-moving-left-on-a-black-background-long.y4m"));
        assertTrue(longBytes > shortBytes, "the long video holds 3 chunks, the short one 2: " + longBytes + " " + shortBytes);
        // each prompt's long rollout says which colour it showed first and last
        assertEquals(3, r.out.split("  over 3 chunks: colour ", -1).length - 1, r.out);
        byte[] y4m = Files.readAllBytes(videos.resolve("00-a-red-circle-moving-left-on-a-black-background.y4m"));
        assertTrue(new String(y4m, 0, 10, java.nio.charset.StandardCharsets.US_ASCII).startsWith("YUV4MPEG2"));
        assertTrue(r.out.contains("a red circle moving left on a black background"), r.out);
        assertTrue(r.out.contains("adherence over 2 held-out prompts (2 chunks each)"), r.out);
        assertTrue(r.out.contains("a blue circle moving down on a black background"), r.out);
        assertTrue(r.out.contains("adherence over 1 training-pair prompts (2 chunks each)"), r.out);
        assertTrue(r.out.matches("(?s).*direction [0-9.]+%, object found [0-9.]+%.*"), r.out);
        assertTrue(r.out.contains("drift over 3 chunks: saturation"), r.out);
        // long rollouts of every prompt, held-out and training pairs: 3 here
        assertTrue(r.out.matches("(?s).*asked colour \\d -> \\d of 3, first second's colour kept in \\d.*"), r.out);
        assertTrue(r.out.contains("speed: DiT"), r.out);
        // the held-out prompts name their backgrounds, the training-pair one does not
        assertTrue(r.out.matches("(?s).*background of the held-out prompts: [0-9.]+ from the asked colour.*tinted \\(over"
                + " 0.06\\) in \\d of 2\n.*"), r.out);
        assertFalse(r.out.contains("background of the training-pair prompts"), r.out);
        assertTrue(r.out.matches("(?s).*background over 3 chunks: [0-9.]+ -> [0-9.]+ from the asked colour.* in \\d of 2"
                + " last seconds.*"), r.out);
        Result none = run((Path) null, "eval");
        assertEquals(2, none.code);
        assertTrue(none.err.contains("eval needs a model directory"), none.err);
        Files.writeString(model.resolve("eval.json"), "{\"palette\": {}, \"prompts\": []}");
        Result empty = run(model, "eval");
        assertEquals(1, empty.code);
        assertTrue(empty.err.contains("no prompts"), empty.err);
        Files.writeString(model.resolve("eval.json"), "{\"palette\": {\"red\": [1, 0, 0]}, \"prompts\": [{\"caption\": \"x\", "
                + "\"colour\": \"red\", \"shape\": \"circle\", \"direction\": \"up\"}], \"seen\": [{\"caption\": \"y\"}]}");
        Result badSeen = run(model, "eval");
        assertEquals(1, badSeen.code);
        assertTrue(badSeen.err.contains("seen[0] needs string caption"), badSeen.err);
        Files.writeString(model.resolve("eval.json"), "{\"palette\": {\"red\": [1, 0, 0]}, \"backgrounds\": {\"gray\": [0.4, 0.4,"
                + " 0.4]}, \"prompts\": [{\"caption\": \"x\", \"colour\": \"red\", \"shape\": \"circle\", \"direction\": \"up\","
                + " \"background\": \"pink\"}]}");
        Result badBackground = run(model, "eval");
        assertEquals(1, badBackground.code);
        assertTrue(badBackground.err.contains("prompts[0] asks for background pink, not in 'backgrounds'"), badBackground.err);
    }

    @Test
    void aMissingGpuFailsClearlyBeforeAnythingIsWritten() {
        // On a machine with an NVIDIA driver this would run on the GPU instead: nothing to check there.
        assumeFalse(driverPresent(), "libcuda.so.1 is present");
        Path out = dir.resolve("never.safetensors");
        Path video = dir.resolve("never.y4m");
        assertBad("--device must be cpu, cuda or cuda:N", "generate-latents", "--device", "gpu", "--out", out.toString());
        assertBad("--device must be cpu, cuda or cuda:N", "generate-latents", "--device", "cuda:-1", "--out", out.toString());
        for (String[] argv : List.of(
                new String[] {"generate-latents", "--device", "cuda", "--chunks", "1", "--out", out.toString()},
                new String[] {"generate", "--device", "cuda:1", "--chunks", "1", "--out", video.toString()})) {
            Result r = run(argv);
            assertEquals(1, r.code, r.out + r.err);
            assertTrue(r.err.contains("no CUDA driver on this machine (libcuda.so.1 not found)"), r.err);
        }
        assertFalse(Files.exists(out));
        assertFalse(Files.exists(video));
        assertFalse(Files.exists(dir.resolve("never.y4m.partial")));
    }

    private static boolean driverPresent() {
        try (Arena arena = Arena.ofConfined()) {
            SymbolLookup.libraryLookup("libcuda.so.1", arena);
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    private void assertBad(String expected, String... argv) {
        Result r = run(argv);
        assertEquals(2, r.code, r.out + r.err);
        assertTrue(r.err.contains(expected), "expected '" + expected + "' in: " + r.err);
    }

    private record Result(int code, String out, String err) {
    }

    private static Result run(String... argv) {
        return run((Path) null, argv);
    }

    private static Result run(Path defaultModel, String... argv) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Main.run(argv, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8),
                defaultModel);
        return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }
}
