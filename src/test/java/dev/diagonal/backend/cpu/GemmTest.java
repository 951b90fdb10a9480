package dev.diagonal.backend.cpu;

import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * linear against a double oracle. Tolerance: |got - want| <= 1e-5 · (Σ_p |x_ip w_jp| + |b_j|) + 1e-6, i.e.
 * relative to the magnitude of the terms, which bounds float accumulation error for these k.
 */
class GemmTest {

    static Stream<Arguments> shapes() {
        int[][] nkm = {
                {1, 1, 1}, {1, 7, 13}, {7, 13, 1}, {13, 7, 7}, {3, 16, 16}, {8, 32, 32}, {9, 33, 31},
                {17, 64, 64}, {48, 64, 160}, {144, 160, 64}, {100, 300, 70}, {200, 513, 65}, {97, 257, 33},
        };
        List<Arguments> out = new ArrayList<>();
        for (int[] s : nkm) {
            for (DType d : new DType[] {DType.F32, DType.BF16, DType.F16}) {
                out.add(Arguments.of(s[0], s[1], s[2], d, s[0] % 2 == 1, 2));
            }
        }
        out.add(Arguments.of(200, 300, 100, DType.F32, true, 1));
        out.add(Arguments.of(200, 300, 100, DType.BF16, true, 3));
        out.add(Arguments.of(5, 40, 2000, DType.F32, false, 3));
        return out.stream();
    }

    @ParameterizedTest(name = "n={0} k={1} m={2} w={3} bias={4} threads={5}")
    @MethodSource("shapes")
    void matchesOracle(int n, int k, int m, DType wType, boolean withBias, int threads) {
        Random rnd = new Random(31L * n + 7L * k + m);
        try (Arena arena = Arena.ofShared(); CpuBackend be = new CpuBackend(threads)) {
            float[] x = TestTensors.gaussian(rnd, n * k);
            float[] w = TestTensors.gaussian(rnd, m * k);
            float[] b = withBias ? TestTensors.gaussian(rnd, m) : null;
            Tensor xt = TestTensors.f32(arena, x, n, k);
            Tensor wt = TestTensors.rounded(arena, wType, w, m, k); // w now holds the rounded weights
            Tensor bt = withBias ? TestTensors.f32(arena, b, m) : null;
            Tensor out = be.allocate(arena, DType.F32, n, m);
            // Garbage in out proves the first K block overwrites rather than accumulates.
            for (int i = 0; i < n * m; i++) {
                out.setFloat(i, 1e6f);
            }
            be.linear(xt, wt, bt, out);
            double[][] abs = new double[n][m];
            double[][] want = ReferenceOps.linear(x, w, b, n, k, m, abs);
            double[] flatWant = new double[n * m];
            double[] flatAbs = new double[n * m];
            for (int i = 0; i < n; i++) {
                System.arraycopy(want[i], 0, flatWant, i * m, m);
                System.arraycopy(abs[i], 0, flatAbs, i * m, m);
            }
            TestTensors.assertClose("linear", flatWant, out.toFloatArray(), i -> 1e-5 * flatAbs[i] + 1e-6);
        }
    }

    @Test
    void repeatedCallsReuseThePackingBufferCorrectly() {
        try (Arena arena = Arena.ofShared(); CpuBackend be = new CpuBackend(2)) {
            Random rnd = new Random(5);
            // A big w then a small one: stale packed panels must not leak into the second result.
            for (int[] s : new int[][] {{20, 70, 90}, {9, 5, 3}}) {
                int n = s[0], k = s[1], m = s[2];
                float[] x = TestTensors.gaussian(rnd, n * k), w = TestTensors.gaussian(rnd, m * k);
                Tensor out = be.allocate(arena, DType.F32, n, m);
                be.linear(TestTensors.f32(arena, x, n, k), TestTensors.f32(arena, w, m, k), null, out);
                double[][] abs = new double[n][m];
                double[][] want = ReferenceOps.linear(x, w, null, n, k, m, abs);
                float[] got = out.toFloatArray();
                for (int i = 0; i < n; i++) {
                    for (int j = 0; j < m; j++) {
                        assertTrue(Math.abs(got[i * m + j] - want[i][j]) <= 1e-5 * abs[i][j] + 1e-6);
                    }
                }
            }
        }
    }

    @Test
    void zeroKGivesBias() {
        try (Arena arena = Arena.ofShared(); CpuBackend be = new CpuBackend(2)) {
            Tensor out = be.allocate(arena, DType.F32, 3, 2);
            be.linear(be.allocate(arena, DType.F32, 3, 0), be.allocate(arena, DType.F32, 2, 0),
                    Tensor.ofFloats(arena, new float[] {1.5f, -2f}, 2), out);
            assertEquals(java.util.Arrays.toString(new float[] {1.5f, -2f, 1.5f, -2f, 1.5f, -2f}),
                    java.util.Arrays.toString(out.toFloatArray()));
        }
    }

    @Test
    void rejectsMismatchedShapesNamingTheOp() {
        try (Arena arena = Arena.ofShared(); CpuBackend be = new CpuBackend(1)) {
            Tensor x = be.allocate(arena, DType.F32, 4, 8);
            Tensor w = be.allocate(arena, DType.F32, 6, 7);
            Tensor out = be.allocate(arena, DType.F32, 4, 6);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> be.linear(x, w, null, out));
            assertTrue(e.getMessage().startsWith("linear:") && e.getMessage().contains("[6, 7]"), e.getMessage());
            Tensor w2 = be.allocate(arena, DType.F32, 6, 8);
            Tensor badOut = be.allocate(arena, DType.F32, 4, 5);
            assertThrows(IllegalArgumentException.class, () -> be.linear(x, w2, null, badOut));
            Tensor badBias = be.allocate(arena, DType.F32, 5);
            assertThrows(IllegalArgumentException.class, () -> be.linear(x, w2, badBias, out));
            Tensor intX = be.allocate(arena, DType.I32, 4, 8);
            assertThrows(IllegalArgumentException.class, () -> be.linear(intX, w2, null, out));
        }
    }
}
