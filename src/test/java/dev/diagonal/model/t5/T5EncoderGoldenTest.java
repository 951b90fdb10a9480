package dev.diagonal.model.t5;

import dev.diagonal.backend.cpu.CpuBackend;
import dev.diagonal.io.SafetensorsFile;
import dev.diagonal.io.Weights;
import dev.diagonal.model.dit.ParameterSource;
import dev.diagonal.tensor.Tensor;
import dev.diagonal.testing.Goldens;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The encoder against tools/reference/t5_encoder.py, which runs the whole padded sequence with a key mask
 * as Wan does (the Java encoder runs only the real tokens: equal results are the point).
 */
class T5EncoderGoldenTest {

    @Test
    void bucketsMatchTheReference() throws Exception {
        try (SafetensorsFile g = Goldens.open("t5_tiny_golden.safetensors")) {
            int[] near = ints(g.tensor("buckets"));
            for (int r = -20; r <= 20; r++) {
                assertEquals(near[r + 20], RelativePosition.bucket(r, 32, 128), "rel " + r);
            }
            int[] far = {-200, -128, -127, -64, -32, -16, 16, 32, 64, 127, 128, 300};
            int[] want = ints(g.tensor("buckets_far"));
            for (int i = 0; i < far.length; i++) {
                assertEquals(want[i], RelativePosition.bucket(far[i], 32, 128), "rel " + far[i]);
            }
        }
    }

    @Test
    void contextMatchesReferenceForShortAndLongPrompts() throws Exception {
        try (SafetensorsFile g = Goldens.open("t5_tiny_golden.safetensors");
             Weights w = Weights.open(List.of(Goldens.open("t5_tiny_weights.safetensors").path()));
             CpuBackend be = new CpuBackend(2); Arena arena = Arena.ofShared()) {
            T5Encoder enc = T5Encoder.load(T5Config.TINY, ParameterSource.of(w), be, arena);
            for (String c : new String[] {"short", "long"}) {
                int[] ids = realIds(g.tensor("ids_" + c));
                List<String> probed = new ArrayList<>();
                Tensor ctx = enc.encode(ids, arena, (name, t) -> {
                    if (c.equals("long")) {
                        Goldens.assertClose(name, g.tensor(name + "_long"), t, Goldens.REL);
                        probed.add(name);
                    }
                });
                Goldens.assertClose("context_" + c, g.tensor("context_" + c), ctx, Goldens.REL);
                if (c.equals("long")) {
                    assertEquals(List.of("blocks.0.out", "blocks.1.out"), probed);
                }
            }
        }
    }

    @Test
    void rejectsBadIdsAndForeignCheckpoints() throws Exception {
        try (Weights w = Weights.open(List.of(Goldens.open("t5_tiny_weights.safetensors").path()));
             CpuBackend be = new CpuBackend(1); Arena arena = Arena.ofShared()) {
            T5Encoder enc = T5Encoder.load(T5Config.TINY, ParameterSource.of(w), be, arena);
            assertTrue(assertThrows(IllegalArgumentException.class, () -> enc.encode(new int[] {5, 300}, arena))
                    .getMessage().contains("outside the vocabulary"));
            assertThrows(IllegalArgumentException.class, () -> enc.encode(new int[0], arena));
            assertThrows(IllegalArgumentException.class, () -> enc.encode(new int[161], arena));
            T5Config other = new T5Config("x", 300, 32, 32, 48, 4, 1, 32, 128, 160, 1e-6f);
            assertTrue(assertThrows(IllegalArgumentException.class,
                    () -> T5Encoder.load(other, ParameterSource.of(w), be, arena)).getMessage().contains("blocks.1."));
        }
        assertEquals(5_680_910_336L, T5Keys.parameterCount(T5Config.UMT5_XXL));
    }

    // ids are padded with 0 after the prompt; the prompt ends with EOS (1)
    private static int[] realIds(Tensor padded) {
        int[] all = ints(padded);
        int n = 0;
        while (n < all.length && all[n] != 0) {
            n++;
        }
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) {
            ids[i] = all[i];
        }
        return ids;
    }

    private static int[] ints(Tensor t) {
        int[] out = new int[(int) t.numel()];
        for (int i = 0; i < out.length; i++) {
            out[i] = t.data().getAtIndex(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED.withOrder(
                    java.nio.ByteOrder.LITTLE_ENDIAN), i);
        }
        return out;
    }
}
