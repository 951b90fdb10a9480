package dev.diagonal.cli;

import dev.diagonal.io.SafetensorsFile;
import dev.diagonal.io.SafetensorsWriter;
import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The tiny DiT streamed from a PyTorch checkpoint (Self-Forcing's layout: generator_ema, model. and FSDP prefixes,
 * bf16) gives exactly the latents it gives from a safetensors file of the same bf16 weights.
 */
class TorchCheckpointStreamTest {
    @TempDir
    Path dir;

    @Test
    void ptAndSafetensorsStreamTheSameLatents() throws IOException, URISyntaxException {
        Path pt = Path.of(getClass().getResource("/dev/diagonal/io/torch/tiny_dit_self_forcing.pt").toURI());
        Path golden = Path.of(getClass().getResource("/golden/tiny_weights.safetensors").toURI());
        Path bf16 = dir.resolve("tiny_bf16.safetensors");
        try (SafetensorsFile f32 = SafetensorsFile.open(golden); Arena arena = Arena.ofConfined()) {
            Map<String, Tensor> rounded = new TreeMap<>();
            for (String n : f32.names()) {
                Tensor t = Tensor.allocate(arena, DType.BF16, f32.info(n).shape());
                t.copyFrom(f32.tensor(n)); // round to nearest even, as torch's .to(bfloat16)
                rounded.put(n, t);
            }
            SafetensorsWriter.write(bf16, rounded);
        }
        String fromPt = stream(pt, dir.resolve("pt.safetensors"));
        stream(bf16, dir.resolve("st.safetensors"));
        assertTrue(fromPt.contains("generator_ema"), "the log says which state dict was used:\n" + fromPt);
        try (SafetensorsFile a = SafetensorsFile.open(dir.resolve("pt.safetensors"));
             SafetensorsFile b = SafetensorsFile.open(dir.resolve("st.safetensors"))) {
            assertArrayEquals(b.tensor("latents").data().toArray(ValueLayout.JAVA_BYTE),
                    a.tensor("latents").data().toArray(ValueLayout.JAVA_BYTE));
        }
    }

    @Test
    void aFamilySetsTheStreamAndTheStateDict() throws IOException, URISyntaxException {
        Path pt = Path.of(getClass().getResource("/dev/diagonal/io/torch/tiny_dit_self_forcing.pt").toURI());
        String log = stream(pt, dir.resolve("cv.safetensors"), "--family", "causvid");
        assertTrue(log.contains("schedule causvid-3") && log.contains("context reencode:0"), log);
        // causvid prefers "generator"; this file only has generator_ema, which the default order still finds.
        assertTrue(log.contains("state dict 'generator_ema'"), log);
        String sf = stream(pt, dir.resolve("sf.safetensors"), "--family", "self-forcing", "--window", "6");
        assertTrue(sf.contains("schedule uniform-4") && sf.contains("cache 6 frames"), sf);
    }

    private static String stream(Path weights, Path out, String... extra) {
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        String[] base = {"generate-latents", "--config", "tiny", "--weights", weights.toString(),
                "--chunks", "3", "--seed", "4", "--threads", "1", "--out", out.toString()};
        String[] argv = java.util.Arrays.copyOf(base, base.length + extra.length);
        System.arraycopy(extra, 0, argv, base.length, extra.length);
        int rc = Main.run(argv,
                new PrintStream(log, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        assertEquals(0, rc, err.toString(StandardCharsets.UTF_8));
        return log.toString(StandardCharsets.UTF_8);
    }
}
