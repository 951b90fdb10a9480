package dev.diagonal.io.torch;

import dev.diagonal.io.SafetensorsFile;
import dev.diagonal.io.TensorFile;
import dev.diagonal.io.TensorInfo;
import dev.diagonal.io.Weights;
import dev.diagonal.io.torch.TorchFormatException.Reason;
import dev.diagonal.tensor.Bf16;
import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The checkpoints tools/reference/make_torch_fixtures.py wrote with torch.save, in each project's real layout,
 * read bit-exact against the tensors it wrote beside them as safetensors.
 */
class TorchCheckpointTest {

    static Path fixture(String name) {
        try {
            return Path.of(TorchCheckpointTest.class.getResource(name).toURI());
        } catch (URISyntaxException | NullPointerException e) {
            throw new AssertionError("fixture " + name + " is missing", e);
        }
    }

    static Path golden(String name) {
        try {
            return Path.of(TorchCheckpointTest.class.getResource("/golden/" + name).toURI());
        } catch (URISyntaxException e) {
            throw new AssertionError(e);
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({
            "self_forcing.pt, generator_ema", "causvid.pt, generator", "longlive_base.pt, generator",
            "longlive_lora.pt, generator_lora", "wan_vae.pth, ''", "legacy.pt, ''", "views.pt, model/state_dict"})
    void readsEveryTensorBitExact(String name, String path) throws IOException {
        String stem = name.substring(0, name.lastIndexOf('.'));
        try (TorchCheckpoint pt = TorchCheckpoint.open(fixture(name), List.of());
             SafetensorsFile expected = SafetensorsFile.open(fixture(stem + ".expected.safetensors"))) {
            assertEquals(expected.names(), pt.names(), name);
            String where = path.isEmpty() ? "the root state dict" : "state dict '" + path + "'";
            assertTrue(pt.origin().startsWith(where), pt.origin());
            for (String key : expected.names()) {
                assertSame(expected.tensor(key), pt.tensor(key), name + " " + key);
            }
        }
    }

    @Test
    void longLiveLoraIsFoundUnderItsOwnKey() throws IOException {
        // generator_lora is not a state-dict nesting key of the base model, so it is not found by default...
        try (TorchCheckpoint pt = TorchCheckpoint.open(fixture("longlive_lora.pt"), List.of("generator_lora"))) {
            assertTrue(pt.origin().startsWith("state dict 'generator_lora'"), pt.origin());
            assertTrue(pt.names().stream().allMatch(n -> n.contains(".lora_A.") || n.contains(".lora_B.")));
        }
    }

    @Test
    void aPreferenceChoosesTheOtherGenerator() throws IOException {
        try (TorchCheckpoint ema = TorchCheckpoint.open(fixture("self_forcing.pt"), List.of());
             TorchCheckpoint plain = TorchCheckpoint.open(fixture("self_forcing.pt"), List.of("generator"))) {
            assertTrue(ema.origin().contains("also there: [generator]"), ema.origin());
            assertTrue(plain.origin().startsWith("state dict 'generator'"), plain.origin());
            assertTrue(plain.names().contains("model.blocks.0.self_attn.q.weight"));
            assertTrue(ema.names().contains("model._fsdp_wrapped_module.blocks.0._fsdp_wrapped_module.self_attn.q.weight"));
        }
    }

    @Test
    void viewsKeepTheirOffsetsIntoOneStorage() throws IOException {
        try (TorchCheckpoint pt = TorchCheckpoint.open(fixture("views.pt"), List.of())) {
            assertArrayEquals(new long[]{4, 4}, pt.info("module.tail").shape());
            assertEquals(8f, pt.tensor("module.tail").getFloat(0));
            assertEquals(12f, pt.tensor("module.row").getFloat(0));
            assertArrayEquals(new long[]{4, 1, 6}, pt.info("module.unit").shape());
            assertEquals(0, pt.tensor("module.empty").numel());
            TensorInfo whole = pt.info("module.whole");
            assertEquals(whole.begin() + 8 * 4, pt.info("module.tail").begin(), "a view, not a copy");
            assertEquals(DType.BOOL, pt.info("module.bool").dtype());
            assertEquals(DType.F64, pt.info("module.float64").dtype());
            assertTrue(pt.names().contains("module.param"), "an nn.Parameter is a tensor");
        }
    }

    @Test
    void transposedTensorIsRefusedByName() {
        TorchFormatException e = assertThrows(TorchFormatException.class,
                () -> TorchCheckpoint.open(fixture("transposed.pt"), List.of()));
        assertEquals(Reason.NON_CONTIGUOUS, e.reason(), e.getMessage());
        assertEquals("t", e.tensor());
        assertTrue(e.getMessage().contains("contiguous"), e.getMessage());
    }

    @Test
    void tinyDitAndUmt5AreTheGoldensInBf16() throws IOException {
        checkRounded("tiny_dit_self_forcing.pt", "tiny_weights.safetensors", "model.");
        checkRounded("umt5.pth", "t5_tiny_weights.safetensors", "");
    }

    private static void checkRounded(String pt, String golden, String prefix) throws IOException {
        try (TorchCheckpoint ckpt = TorchCheckpoint.open(fixture(pt), List.of());
             SafetensorsFile f32 = SafetensorsFile.open(golden(golden))) {
            Set<String> prefixed = new TreeSet<>();
            f32.names().forEach(n -> prefixed.add(prefix + n));
            assertEquals(prefixed, ckpt.names(), pt);
            for (String n : f32.names()) {
                Tensor want = f32.tensor(n);
                Tensor got = ckpt.tensor(prefix + n);
                assertEquals(DType.BF16, got.dtype());
                assertArrayEquals(want.shape(), got.shape(), n);
                for (long i = 0; i < want.numel(); i++) {
                    assertEquals(Bf16.fromFloat(want.getFloat(i)), got.data().getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i),
                            pt + " " + n + "[" + i + "]");
                }
            }
        }
    }

    @Test
    void weightsOpenPtTransparentlyAndSayWhatTheyPicked() throws IOException {
        try (Weights w = Weights.open(List.of(fixture("self_forcing.pt")))) {
            assertTrue(w.has("blocks.0.self_attn.q.weight"), w.names().toString());
            assertEquals(1, w.notes().size());
            String note = w.notes().getFirst();
            assertTrue(note.contains("generator_ema") && note.contains("'model._fsdp_wrapped_module.'"), note);
        }
        try (TensorFile f = TensorFile.open(fixture("wan_vae.pth"), List.of())) {
            assertInstanceOf(TorchCheckpoint.class, f);
        }
        try (TensorFile f = TensorFile.open(golden("tiny_weights.safetensors"), List.of())) {
            assertInstanceOf(SafetensorsFile.class, f);
        }
    }

    @Test
    void closedCheckpointRefusesViews() throws IOException {
        TorchCheckpoint pt = TorchCheckpoint.open(fixture("causvid.pt"), List.of());
        String any = pt.names().iterator().next();
        pt.close();
        pt.close();
        assertThrows(IllegalStateException.class, () -> pt.tensor(any));
    }

    static void assertSame(Tensor want, Tensor got, String what) {
        assertEquals(want.dtype(), got.dtype(), what);
        assertArrayEquals(want.shape(), got.shape(), what);
        assertArrayEquals(want.data().toArray(ValueLayout.JAVA_BYTE), got.data().toArray(ValueLayout.JAVA_BYTE), what);
    }
}
