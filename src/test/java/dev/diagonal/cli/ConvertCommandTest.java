package dev.diagonal.cli;

import dev.diagonal.io.SafetensorsFile;
import dev.diagonal.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.lang.foreign.ValueLayout;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code diagonal convert}: PyTorch fixtures rewritten as safetensors under the engine's names, bytes kept. */
class ConvertCommandTest {
    @TempDir
    Path dir;

    private static Path fixture(String name) throws URISyntaxException {
        return Path.of(ConvertCommandTest.class.getResource("/dev/diagonal/io/torch/" + name).toURI());
    }

    private static int run(String... argv) {
        return Main.run(argv, new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
    }

    @Test
    void selfForcingBecomesSafetensorsWithEngineNamesAndBf16Kept() throws Exception {
        Path out = dir.resolve("sf.safetensors");
        assertEquals(0, run("convert", fixture("self_forcing.pt").toString(), out.toString(), "--family", "self-forcing"));
        try (SafetensorsFile st = SafetensorsFile.open(out);
             SafetensorsFile expected = SafetensorsFile.open(fixture("self_forcing.expected.safetensors"))) {
            assertTrue(st.has("blocks.0.self_attn.q.weight"), st.names().toString());
            assertEquals(expected.names().size(), st.names().size());
            String raw = "model._fsdp_wrapped_module.blocks.0._fsdp_wrapped_module.self_attn.q.weight";
            assertEquals(DType.BF16, st.info("blocks.0.self_attn.q.weight").dtype());
            assertArrayEquals(expected.tensor(raw).data().toArray(ValueLayout.JAVA_BYTE),
                    st.tensor("blocks.0.self_attn.q.weight").data().toArray(ValueLayout.JAVA_BYTE));
            assertTrue(st.metadata().get("source").contains("generator_ema"), st.metadata().toString());
        }
        // --state-dict overrides the family: the non-EMA generator.
        Path plain = dir.resolve("gen.safetensors");
        assertEquals(0, run("convert", fixture("self_forcing.pt").toString(), plain.toString(), "--state-dict", "generator"));
        try (SafetensorsFile st = SafetensorsFile.open(plain)) {
            assertTrue(st.metadata().get("source").startsWith("self_forcing.pt: state dict 'generator'"), st.metadata().toString());
        }
    }

    @Test
    void longLiveBaseWithItsLoraMerged() throws Exception {
        Path out = dir.resolve("ll.safetensors");
        // The fixture's adapter has rank 2, not the release's 256: the family's rank is checked and refused.
        assertEquals(1, run("convert", fixture("longlive_base.pt").toString(), out.toString(), "--family", "longlive",
                "--lora", fixture("longlive_lora.pt").toString()));
        assertEquals(2, run("convert", fixture("longlive_base.pt").toString(), out.toString(), "--lora",
                fixture("longlive_lora.pt").toString()));
        assertEquals(2, run("convert", fixture("longlive_base.pt").toString()));
    }
}
