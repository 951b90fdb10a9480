package dev.diagonal.backend.cpu;

import dev.diagonal.model.dit.RopeTable;

import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.Arena;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * rope3d + RopeTable against Wan's rope_apply written as a direct complex multiply in double with the
 * frequencies recomputed from rope_params. Tolerance: 1e-5 · (|re| + |im|) of the pair + 1e-6 (the table
 * is f32, and angles reach ~1000 rad, where the f32 cos/sin are still within 1 ulp of the double ones).
 */
class RopeTest {

    @ParameterizedTest(name = "heads={0} hd={1} grid={2}x{3}x{4} frameOffset={5} threads={6}")
    @CsvSource({
            "1, 2, 1, 1, 1, 0, 1",
            "1, 6, 2, 3, 1, 5, 1",
            "2, 32, 3, 2, 5, 0, 2",
            "2, 64, 2, 4, 3, 7, 2",
            "3, 128, 2, 3, 4, 20, 2",
            "1, 18, 3, 1, 7, 1000, 2",
            "2, 10, 1, 13, 1, 3, 3",
    })
    void matchesWanRopeApply(int heads, int hd, int frames, int height, int width, int frameOffset, int threads) {
        Random rnd = new Random(hd * 31L + frames);
        int tokens = frames * height * width;
        float[] x = TestTensors.gaussian(rnd, tokens * heads * hd);
        try (Arena arena = Arena.ofShared(); CpuBackend be = new CpuBackend(threads)) {
            Tensor table = RopeTable.create(arena, hd);
            Tensor xt = TestTensors.f32(arena, x, tokens, heads * hd);
            be.rope3d(xt, heads, frames, height, width, frameOffset, table);
            double[] want = ReferenceOps.rope(x, heads, hd, frames, height, width, frameOffset);
            TestTensors.assertClose("rope3d", want, xt.toFloatArray(),
                    i -> 1e-5 * (Math.abs(x[i & ~1]) + Math.abs(x[i | 1])) + 1e-6);
        }
    }

    @Test
    void tableMatchesWanRopeParams() {
        try (Arena arena = Arena.ofShared()) {
            int hd = 128;
            Tensor t = RopeTable.create(arena, hd);
            assertEquals(java.util.Arrays.toString(new long[] {1024, 64, 2}), java.util.Arrays.toString(t.shape()));
            double[] f = ReferenceOps.ropeFrequencies(hd);
            // Spot values: frame freq 0 is 1, the height part restarts at freq 1 (index 22 for head dim 128).
            assertEquals(1.0, f[0]);
            assertEquals(1.0, f[22]);
            assertEquals(1.0, f[43]);
            assertEquals(1.0 / Math.pow(10000, 2.0 / 44), f[1], 1e-15);
            for (int pos : new int[] {0, 1, 17, 1023}) {
                for (int j = 0; j < 64; j++) {
                    assertEquals(Math.cos(pos * f[j]), t.getFloat((pos * 64L + j) * 2), 1e-6);
                    assertEquals(Math.sin(pos * f[j]), t.getFloat((pos * 64L + j) * 2 + 1), 1e-6);
                }
            }
        }
    }

    @Test
    void rejectsPositionsPastTheTable() {
        try (Arena arena = Arena.ofShared(); CpuBackend be = new CpuBackend(1)) {
            Tensor table = RopeTable.create(arena, 8, 10);
            Tensor x = be.allocate(arena, DType.F32, 4, 8);
            assertThrows(IllegalArgumentException.class, () -> be.rope3d(x, 1, 4, 1, 1, 7, table));
            assertThrows(IllegalArgumentException.class, () -> be.rope3d(x, 1, 2, 1, 1, 0, table));
            assertThrows(IllegalArgumentException.class, () -> be.rope3d(x, 3, 4, 1, 1, 0, table));
        }
    }
}
