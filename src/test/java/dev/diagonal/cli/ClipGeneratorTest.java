package dev.diagonal.cli;

import dev.diagonal.model.ModelBundleFixture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ClipGeneratorTest {
    @TempDir
    Path dir;

    @Test
    void clipsFromOneLoadedModelAreTheClipsGenerateWrites() throws Exception {
        Path model = ModelBundleFixture.write(dir.resolve("model"));
        List<String> flags = List.of("--model", model.toString(), "--threads", "1", "--no-prompt-cache");
        try (ClipModel m = ClipModel.open(flags, null); ClipGenerator g = m.newGenerator()) {
            assertEquals(21, m.frames());
            assertEquals(32, m.spec().width());
            // Two prompts and seeds through one generator: the second clip runs after the first, with no
            // warm-up of its own, and must still be the clip a fresh generate process writes.
            for (int seed : new int[]{3, 4}) {
                String prompt = seed == 3 ? "a red circle" : "a blue square moving up";
                Path clip = dir.resolve("clip" + seed + ".y4m");
                List<byte[]> seen = new ArrayList<>();
                ClipResult r = g.generate(prompt, seed, clip, seed == 4 ? rgb -> seen.add(rgb.clone()) : null);
                assertEquals(21, r.frames());
                assertEquals(seed == 4 ? 21 : 0, seen.size());
                assertFalse(Files.exists(dir.resolve("clip" + seed + ".y4m.partial")));

                Path ref = dir.resolve("ref" + seed + ".y4m");
                ByteArrayOutputStream err = new ByteArrayOutputStream();
                int code = Main.run(new String[]{"generate", prompt, "--model", model.toString(), "--seed", Integer.toString(seed),
                        "--threads", "1", "--no-prompt-cache", "--out", ref.toString()},
                        new PrintStream(new ByteArrayOutputStream()), new PrintStream(err, true, StandardCharsets.UTF_8), null);
                assertEquals(0, code, err.toString(StandardCharsets.UTF_8));
                assertArrayEquals(Files.readAllBytes(ref), Files.readAllBytes(clip), "clip " + seed);
            }
        }
    }

    @Test
    void aTapThatThrowsAbandonsTheClip() throws Exception {
        Path model = ModelBundleFixture.write(dir.resolve("model"));
        try (ClipModel m = ClipModel.open(List.of("--model", model.toString(), "--threads", "1", "--no-prompt-cache"), null);
             ClipGenerator g = m.newGenerator()) {
            Path clip = dir.resolve("killed.y4m");
            int[] frames = {0};
            java.io.IOException e = assertThrows(java.io.IOException.class, () -> g.generate("a red circle", 1, clip, rgb -> {
                if (++frames[0] == 7) {
                    throw new java.io.IOException("killed mid-way");
                }
            }));
            assertEquals("killed mid-way", e.getMessage());
            assertFalse(Files.exists(clip));
            assertFalse(Files.exists(dir.resolve("killed.y4m.partial")));
            // The generator is still usable after an abandoned clip.
            assertEquals(21, g.generate("a red circle", 1, clip, null).frames());
        }
    }

    @Test
    void badFlagsAndMissingModelsFailAtOpen() throws Exception {
        assertThrows(Args.UsageException.class, () -> ClipModel.open(List.of("a prompt"), null));
        assertThrows(Args.UsageException.class, () -> ClipModel.open(List.of("--out", "x.y4m"), null));
        assertThrows(Args.UsageException.class, () -> ClipModel.open(List.of("--config", "tiny"), null));
        Exception missing = assertThrows(Exception.class,
                () -> ClipModel.open(List.of("--model", dir.resolve("nowhere").toString()), null));
        assertTrue(missing.getMessage().contains("model.json is missing"), missing.getMessage());
    }
}
