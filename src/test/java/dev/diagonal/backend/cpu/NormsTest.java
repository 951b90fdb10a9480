package dev.diagonal.backend.cpu;

import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.Arena;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * layerNorm / rmsNorm against double oracles. Tolerance: 2e-5 · (|normalized value| · |w| + |b|) + 2e-6 per
 * element, relative to the output's terms; layerNorm adds 2e-7 · |row mean| / std · |w|, since x - mean in
 * float loses the low bits of x when the mean is large next to the spread.
 */
class NormsTest {

    @ParameterizedTest(name = "rows={0} cols={1} affine={2} weightType={3} offset={4} threads={5}")
    @CsvSource({
            "1, 1, false, F32, 0, 1",
            "1, 7, true, F32, 0, 1",
            "13, 13, true, BF16, 3, 2",
            "7, 16, false, F32, 100, 2",
            "50, 1536, true, F32, 1000, 2",
            "33, 100, true, F16, -5, 3",
    })
    void layerNormMatches(int rows, int cols, boolean affine, DType wType, float offset, int threads) {
        Random rnd = new Random(rows * 7L + cols);
        float[] x = TestTensors.gaussian(rnd, rows * cols);
        for (int i = 0; i < x.length; i++) {
            x[i] += offset; // a large mean stresses the variance computation
        }
        float[] w = affine ? TestTensors.gaussian(rnd, cols) : null;
        float[] b = affine ? TestTensors.gaussian(rnd, cols) : null;
        try (Arena arena = Arena.ofShared(); CpuBackend be = new CpuBackend(threads)) {
            Tensor wt = affine ? TestTensors.rounded(arena, wType, w, cols) : null;
            Tensor bt = affine ? TestTensors.rounded(arena, wType, b, cols) : null;
            Tensor out = be.allocate(arena, DType.F32, rows, cols);
            be.layerNorm(TestTensors.f32(arena, x, rows, cols), wt, bt, 1e-6f, out);
            double[] want = ReferenceOps.layerNorm(x, rows, cols, w, b, 1e-6);
            double[] plain = ReferenceOps.layerNorm(x, rows, cols, null, null, 1e-6);
            TestTensors.assertClose("layerNorm", want, out.toFloatArray(), i -> 2e-5
                    * (Math.abs(plain[i]) * (w == null ? 1 : Math.abs(w[i % cols])) + (b == null ? 0 : Math.abs(b[i % cols])))
                    + 2e-6 + 2e-7 * Math.abs(offset) * (w == null ? 1 : Math.abs(w[i % cols])));
        }
    }

    @ParameterizedTest(name = "rows={0} cols={1} weight={2} threads={3}")
    @CsvSource({"1, 1, false, 1", "3, 7, true, 1", "13, 128, true, 2", "40, 1536, false, 2", "9, 33, true, 3"})
    void rmsNormMatches(int rows, int cols, boolean withWeight, int threads) {
        Random rnd = new Random(rows * 5L + cols);
        float[] x = TestTensors.gaussian(rnd, rows * cols);
        float[] w = withWeight ? TestTensors.gaussian(rnd, cols) : null;
        try (Arena arena = Arena.ofShared(); CpuBackend be = new CpuBackend(threads)) {
            Tensor xt = TestTensors.f32(arena, x, rows, cols);
            Tensor wt = withWeight ? TestTensors.f32(arena, w, cols) : null;
            be.rmsNorm(xt, wt, 1e-6f, xt); // in place: out == x
            double[] want = ReferenceOps.rmsNorm(x, rows, cols, w, 1e-6);
            TestTensors.assertClose("rmsNorm", want, xt.toFloatArray(), i -> 2e-5 * Math.abs(want[i]) + 2e-6);
        }
    }

    @Test
    void rejectsWrongWeightLength() {
        try (Arena arena = Arena.ofShared(); CpuBackend be = new CpuBackend(1)) {
            Tensor x = be.allocate(arena, DType.F32, 2, 8);
            Tensor w = be.allocate(arena, DType.F32, 7);
            assertThrows(IllegalArgumentException.class, () -> be.layerNorm(x, w, null, 1e-6f, x));
            assertThrows(IllegalArgumentException.class, () -> be.rmsNorm(x, w, 1e-6f, x));
            assertThrows(IllegalArgumentException.class, () -> be.rmsNorm(x, null, 1e-6f, be.allocate(arena, DType.F32, 2, 9)));
        }
    }
}
