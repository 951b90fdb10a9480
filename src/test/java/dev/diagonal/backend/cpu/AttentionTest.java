package dev.diagonal.backend.cpu;

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
 * attention against a naive double softmax. Tolerance per output element:
 * 2e-5 · (1 + max_j Σ_d |q k|/sqrt(d)) · Σ_j p_j |v_j| + 1e-6 — a score error of relative size ~1e-6 of its
 * term sum moves p by that much, so the bound scales with score magnitude and with |v| under p.
 */
class AttentionTest {

    @ParameterizedTest(name = "nq={0} nk={1} heads={2} hd={3} offset={4} chunk={5} threads={6}")
    @CsvSource({
            // no mask, single query, tiny dims
            "1, 1, 1, 2, 0, 0, 1",
            "1, 7, 1, 6, 0, 0, 2",
            "7, 13, 2, 32, 0, 0, 2",
            // the real-model head dim and the small configs
            "48, 48, 2, 32, 0, 48, 2",
            "48, 480, 2, 32, 432, 48, 2",
            "70, 200, 3, 64, 130, 70, 2",
            "65, 130, 2, 128, 65, 65, 2",
            // chunk-causal inside the query block: chunk smaller than nq, offset 0
            "50, 50, 2, 16, 0, 7, 2",
            // chunk not dividing nk, offset > 0, keys past nk clipped
            "13, 40, 1, 10, 27, 6, 1",
            "100, 150, 2, 20, 50, 33, 3",
            // mask larger than everything (every key visible) and an odd query count across blocks
            "129, 70, 1, 8, 0, 1000, 2",
            // query positions far past nk: all keys visible
            "5, 9, 1, 4, 100, 3, 1",
            // an even but awkward head dim (not a multiple of the lane count)
            "33, 77, 3, 18, 44, 11, 2",
            // mask boundaries between the two rows of a P·V pair, on the 4-vector path (head dims 64, 128)
            "40, 100, 2, 64, 61, 20, 2",
            "37, 90, 1, 128, 45, 10, 2",
    })
    void matchesNaiveSoftmax(int nq, int nk, int heads, int hd, long offset, long chunk, int threads) {
        Random rnd = new Random(nq * 1000L + nk * 10L + hd);
        int dim = heads * hd;
        float[] q = scaled(TestTensors.gaussian(rnd, nq * dim), 2f);
        float[] k = scaled(TestTensors.gaussian(rnd, nk * dim), 2f);
        float[] v = TestTensors.gaussian(rnd, nk * dim);
        try (Arena arena = Arena.ofShared(); CpuBackend be = new CpuBackend(threads)) {
            Tensor out = be.allocate(arena, DType.F32, nq, dim);
            be.attention(TestTensors.f32(arena, q, nq, dim), TestTensors.f32(arena, k, nk, dim),
                    TestTensors.f32(arena, v, nk, dim), out, heads, offset, chunk);
            double[][] tol = new double[nq][dim];
            double[] maxDot = new double[nq * heads];
            double[][] want = ReferenceOps.attention(q, k, v, nq, nk, heads, hd, offset, chunk, tol, maxDot);
            float[] got = out.toFloatArray();
            double[] flat = new double[nq * dim];
            for (int i = 0; i < nq; i++) {
                System.arraycopy(want[i], 0, flat, i * dim, dim);
            }
            TestTensors.assertClose("attention", flat, got, e -> {
                int i = e / dim, c = e % dim;
                return 2e-5 * (1 + maxDot[i * heads + c / hd]) * tol[i][c] + 1e-6;
            });
        }
    }

    @Test
    void maskActuallyHidesFutureKeys() {
        // One query at position 0 with chunk 1 sees only key 0, so the output is exactly v[0].
        try (Arena arena = Arena.ofShared(); CpuBackend be = new CpuBackend(2)) {
            Tensor q = Tensor.ofFloats(arena, new float[] {1, 0}, 1, 2);
            Tensor k = Tensor.ofFloats(arena, new float[] {0, 0, 50, 0, 50, 0}, 3, 2);
            Tensor v = Tensor.ofFloats(arena, new float[] {1, 2, 30, 40, 50, 60}, 3, 2);
            Tensor out = be.allocate(arena, DType.F32, 1, 2);
            be.attention(q, k, v, out, 1, 0, 1);
            assertEquals(1f, out.getFloat(0));
            assertEquals(2f, out.getFloat(1));
            be.attention(q, k, v, out, 1, 2, 3); // position 2 in chunk [0,3): all keys, key 1 and 2 dominate
            assertEquals(40f, out.getFloat(0), 1e-3);
        }
    }

    @Test
    void confinedArenaTensorsStillWork() {
        // Tensors only their owner thread may touch make the op run on the caller alone.
        Random rnd = new Random(3);
        try (Arena arena = Arena.ofConfined(); CpuBackend be = new CpuBackend(2)) {
            float[] q = TestTensors.gaussian(rnd, 40 * 16), k = TestTensors.gaussian(rnd, 40 * 16);
            Tensor out = be.allocate(arena, DType.F32, 40, 16);
            be.attention(TestTensors.f32(arena, q, 40, 16), TestTensors.f32(arena, k, 40, 16),
                    TestTensors.f32(arena, k, 40, 16), out, 2, 0, 0);
            double[][] tol = new double[40][16];
            double[][] want = ReferenceOps.attention(q, k, k, 40, 40, 2, 8, 0, 0, tol, new double[80]);
            assertEquals(want[39][15], out.getFloat(39 * 16 + 15), 1e-4);
        }
    }

    @Test
    void rejectsBadArguments() {
        try (Arena arena = Arena.ofShared(); CpuBackend be = new CpuBackend(1)) {
            Tensor q = be.allocate(arena, DType.F32, 4, 12);
            Tensor k = be.allocate(arena, DType.F32, 5, 12);
            Tensor kBad = be.allocate(arena, DType.F32, 5, 8);
            Tensor out = be.allocate(arena, DType.F32, 4, 12);
            assertThrows(IllegalArgumentException.class, () -> be.attention(q, kBad, kBad, out, 2, 0, 0));
            assertThrows(IllegalArgumentException.class, () -> be.attention(q, k, k, out, 5, 0, 0));
            assertThrows(IllegalArgumentException.class, () -> be.attention(q, k, k, out, 2, -1, 0));
            Tensor empty = be.allocate(arena, DType.F32, 0, 12);
            assertThrows(IllegalArgumentException.class, () -> be.attention(q, empty, empty, out, 2, 0, 0));
        }
    }

    private static float[] scaled(float[] a, float s) {
        for (int i = 0; i < a.length; i++) {
            a[i] *= s;
        }
        return a;
    }
}
