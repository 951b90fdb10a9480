package dev.diagonal.backend.cpu;

import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Pure data movement (exact equality): patchify/unpatchify, copy, copyRows with overlap, allocate. */
class LayoutTest {

    @ParameterizedTest(name = "C={0} F={1} H={2} W={3} patch={4}x{5}x{6}")
    @CsvSource({"1, 1, 1, 1, 1, 1, 1", "16, 3, 4, 6, 1, 2, 2", "3, 4, 6, 9, 2, 3, 3", "2, 2, 2, 2, 2, 2, 2", "5, 1, 7, 13, 1, 7, 1"})
    void patchifyAndUnpatchifyMatchWanLayouts(int C, int F, int H, int W, int pt, int ph, int pw) {
        Random rnd = new Random(C * F * H * W);
        float[] lat = TestTensors.gaussian(rnd, C * F * H * W);
        int tokens = (F / pt) * (H / ph) * (W / pw), feat = C * pt * ph * pw;
        try (Arena arena = Arena.ofShared(); CpuBackend be = new CpuBackend(2)) {
            Tensor out = be.allocate(arena, DType.F32, tokens, feat);
            be.patchify(TestTensors.f32(arena, lat, C, F, H, W), pt, ph, pw, out);
            assertArrayEquals(ReferenceOps.patchify(lat, C, F, H, W, pt, ph, pw), out.toFloatArray());

            float[] tok = TestTensors.gaussian(rnd, tokens * feat);
            Tensor back = be.allocate(arena, DType.F32, C, F, H, W);
            be.unpatchify(TestTensors.f32(arena, tok, tokens, feat), pt, ph, pw, back);
            assertArrayEquals(ReferenceOps.unpatchify(tok, C, F, H, W, pt, ph, pw), back.toFloatArray());
        }
    }

    @Test
    void patchifyRejectsIndivisibleLatent() {
        try (Arena arena = Arena.ofShared(); CpuBackend be = new CpuBackend(1)) {
            Tensor lat = be.allocate(arena, DType.F32, 2, 3, 5, 4);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> be.patchify(lat, 1, 2, 2, be.allocate(arena, DType.F32, 12, 8)));
            assertTrue(e.getMessage().startsWith("patchify:"), e.getMessage());
        }
    }

    @Test
    void copyRowsHandlesOverlapBothWays() {
        try (Arena arena = Arena.ofShared(); CpuBackend be = new CpuBackend(2)) {
            float[] v = new float[10 * 3];
            for (int i = 0; i < v.length; i++) {
                v[i] = i;
            }
            Tensor t = TestTensors.f32(arena, v, 10, 3);
            be.copyRows(t, 0, t, 2, 6); // forward overlap: rows 0..5 -> 2..7
            float[] want = v.clone();
            System.arraycopy(v, 0, want, 6, 18);
            assertArrayEquals(want, t.toFloatArray());
            float[] before = t.toFloatArray();
            be.copyRows(t, 3, t, 1, 7); // backward overlap: rows 3..9 -> 1..7
            float[] want2 = before.clone();
            System.arraycopy(before, 9, want2, 3, 21);
            assertArrayEquals(want2, t.toFloatArray());

            Tensor other = be.allocate(arena, DType.F32, 4, 3);
            be.copyRows(t, 8, other, 1, 2);
            assertArrayEquals(Arrays.copyOfRange(t.toFloatArray(), 24, 30), Arrays.copyOfRange(other.toFloatArray(), 3, 9));
            assertThrows(IllegalArgumentException.class, () -> be.copyRows(t, 9, other, 0, 2));
            assertThrows(IllegalArgumentException.class, () -> be.copyRows(t, 0, other, 3, 2));
            assertThrows(IllegalArgumentException.class, () -> be.copyRows(t, 0, be.allocate(arena, DType.F32, 4, 2), 0, 1));
        }
    }

    @Test
    void copyAndAllocate() {
        try (Arena arena = Arena.ofShared(); CpuBackend be = new CpuBackend(1)) {
            Tensor a = be.allocate(arena, DType.BF16, 3, 5);
            assertEquals(0, a.data().address() % 64);
            for (float f : a.toFloatArray()) {
                assertEquals(0f, f);
            }
            a.setFloat(7, 2.5f);
            Tensor b = be.allocate(arena, DType.BF16, 15);
            be.copy(a, b);
            assertEquals(2.5f, b.getFloat(7));
            assertThrows(IllegalArgumentException.class, () -> be.copy(a, be.allocate(arena, DType.F32, 15)));
            assertThrows(IllegalArgumentException.class, () -> be.copy(a, be.allocate(arena, DType.BF16, 14)));
        }
    }
}
