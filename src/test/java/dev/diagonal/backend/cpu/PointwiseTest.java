package dev.diagonal.backend.cpu;

import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.Arena;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Elementwise ops against double oracles. Tolerance: 1e-6 · (sum of |terms|) + 1e-7 for the affine ops
 * (a couple of float roundings), and 2e-6 · |x| + 1e-7 for gelu/silu (the vector tanh/exp are within a few
 * ulp). Shapes include 1, 7, 13 and non-multiples of the 16-lane vector, and 40000-element tensors that
 * split across threads.
 */
class PointwiseTest {

    @ParameterizedTest(name = "rows={0} cols={1} rowsPerFrame={2} threads={3}")
    @CsvSource({"1, 1, 1, 1", "7, 13, 3, 2", "12, 16, 4, 2", "100, 37, 25, 2", "400, 100, 7, 3"})
    void modulateAndGatedAdd(int rows, int cols, int rowsPerFrame, int threads) {
        Random rnd = new Random(rows + 13L * cols);
        int frames = (rows + rowsPerFrame - 1) / rowsPerFrame;
        float[] x = TestTensors.gaussian(rnd, rows * cols);
        float[] y = TestTensors.gaussian(rnd, rows * cols);
        float[] shift = TestTensors.gaussian(rnd, frames * cols);
        float[] scale = TestTensors.gaussian(rnd, frames * cols);
        float[] gate = TestTensors.gaussian(rnd, frames * cols);
        try (Arena arena = Arena.ofShared(); CpuBackend be = new CpuBackend(threads)) {
            Tensor xt = TestTensors.f32(arena, x, rows, cols);
            Tensor out = be.allocate(arena, DType.F32, rows, cols);
            be.modulate(xt, TestTensors.f32(arena, shift, frames, cols), TestTensors.f32(arena, scale, frames, cols),
                    rowsPerFrame, out);
            double[] want = new double[rows * cols];
            double[] terms = new double[rows * cols];
            for (int i = 0; i < rows * cols; i++) {
                int f = (i / cols) / rowsPerFrame, c = i % cols;
                want[i] = x[i] * (1.0 + scale[f * cols + c]) + shift[f * cols + c];
                terms[i] = Math.abs(x[i]) * (1 + Math.abs(scale[f * cols + c])) + Math.abs(shift[f * cols + c]);
            }
            TestTensors.assertClose("modulate", want, out.toFloatArray(), i -> 1e-6 * terms[i] + 1e-7);

            be.modulate(xt, TestTensors.f32(arena, shift, frames, cols), TestTensors.f32(arena, scale, frames, cols),
                    rowsPerFrame, xt); // in place
            TestTensors.assertClose("modulate in place", want, xt.toFloatArray(), i -> 1e-6 * terms[i] + 1e-7);

            Tensor acc = TestTensors.f32(arena, x, rows, cols);
            be.gatedAdd(acc, TestTensors.f32(arena, y, rows, cols), TestTensors.f32(arena, gate, frames, cols), rowsPerFrame);
            for (int i = 0; i < rows * cols; i++) {
                int f = (i / cols) / rowsPerFrame, c = i % cols;
                want[i] = x[i] + (double) y[i] * gate[f * cols + c];
                terms[i] = Math.abs(x[i]) + Math.abs(y[i] * gate[f * cols + c]);
            }
            TestTensors.assertClose("gatedAdd", want, acc.toFloatArray(), i -> 1e-6 * terms[i] + 1e-7);
        }
    }

    @ParameterizedTest(name = "rows={0} cols={1} threads={2}")
    @CsvSource({"1, 1, 1", "7, 13, 2", "3, 16, 2", "300, 133, 2"})
    void addRowAddAndFlow(int rows, int cols, int threads) {
        Random rnd = new Random(rows * 3L + cols);
        int n = rows * cols;
        float[] x = TestTensors.gaussian(rnd, n), y = TestTensors.gaussian(rnd, n), row = TestTensors.gaussian(rnd, cols);
        try (Arena arena = Arena.ofShared(); CpuBackend be = new CpuBackend(threads)) {
            Tensor xt = TestTensors.f32(arena, x, rows, cols);
            be.addRow(xt, TestTensors.rounded(arena, DType.BF16, row, cols));
            double[] want = new double[n];
            for (int i = 0; i < n; i++) {
                want[i] = (double) x[i] + row[i % cols];
            }
            TestTensors.assertClose("addRow", want, xt.toFloatArray(), i -> 1e-6 * (Math.abs(x[i]) + Math.abs(row[i % cols])) + 1e-7);

            Tensor a = TestTensors.f32(arena, x, rows, cols);
            be.add(a, TestTensors.f32(arena, y, rows, cols));
            for (int i = 0; i < n; i++) {
                want[i] = (double) x[i] + y[i];
            }
            TestTensors.assertClose("add", want, a.toFloatArray(), i -> 1e-6 * (Math.abs(x[i]) + Math.abs(y[i])) + 1e-7);

            float sigma = 0.37f;
            Tensor out = be.allocate(arena, DType.F32, rows, cols);
            be.flowToX0(TestTensors.f32(arena, x, rows, cols), TestTensors.f32(arena, y, rows, cols), sigma, out);
            for (int i = 0; i < n; i++) {
                want[i] = x[i] - (double) sigma * y[i];
            }
            TestTensors.assertClose("flowToX0", want, out.toFloatArray(), i -> 1e-6 * (Math.abs(x[i]) + Math.abs(y[i])) + 1e-7);

            Tensor noisy = TestTensors.f32(arena, x, rows, cols);
            be.addNoise(noisy, TestTensors.f32(arena, y, rows, cols), sigma, noisy); // out aliases x0
            for (int i = 0; i < n; i++) {
                want[i] = (1.0 - sigma) * x[i] + (double) sigma * y[i];
            }
            TestTensors.assertClose("addNoise", want, noisy.toFloatArray(), i -> 1e-6 * (Math.abs(x[i]) + Math.abs(y[i])) + 1e-7);
        }
    }

    /**
     * The fused sampler step against the formula in double (tolerance 1e-6 · (sum of |terms|) + 1e-7, as for
     * flowToX0/addNoise), and bit for bit against flowToX0 followed by addNoise, which it replaces in the sampler:
     * there the tolerance is zero. next writes over xt, as the sampler runs it.
     */
    @ParameterizedTest(name = "n={0} threads={1}")
    @CsvSource({"1, 1", "7, 1", "13, 2", "40000, 2", "40007, 3"})
    void flowStep(int n, int threads) {
        Random rnd = new Random(31L * n + threads);
        float[] xt = TestTensors.gaussian(rnd, n), v = TestTensors.gaussian(rnd, n), z = TestTensors.gaussian(rnd, n);
        float sigma = 0.83f, nextSigma = 0.41f;
        try (Arena arena = Arena.ofShared(); CpuBackend be = new CpuBackend(threads)) {
            Tensor x = TestTensors.f32(arena, xt, n);
            Tensor x0 = be.allocate(arena, DType.F32, n);
            be.flowStep(x, TestTensors.f32(arena, v, n), TestTensors.f32(arena, z, n), sigma, nextSigma, x0, x);
            double[] wantX0 = new double[n], wantNext = new double[n], terms = new double[n];
            for (int i = 0; i < n; i++) {
                wantX0[i] = xt[i] - (double) sigma * v[i];
                wantNext[i] = (1.0 - nextSigma) * wantX0[i] + (double) nextSigma * z[i];
                terms[i] = Math.abs(xt[i]) + Math.abs(v[i]) + Math.abs(z[i]);
            }
            float[] gotX0 = x0.toFloatArray(), gotNext = x.toFloatArray();
            TestTensors.assertClose("flowStep x0", wantX0, gotX0, i -> 1e-6 * terms[i] + 1e-7);
            TestTensors.assertClose("flowStep next", wantNext, gotNext, i -> 1e-6 * terms[i] + 1e-7);

            Tensor twoOpX0 = be.allocate(arena, DType.F32, n), twoOpNext = be.allocate(arena, DType.F32, n);
            be.flowToX0(TestTensors.f32(arena, xt, n), TestTensors.f32(arena, v, n), sigma, twoOpX0);
            be.addNoise(twoOpX0, TestTensors.f32(arena, z, n), nextSigma, twoOpNext);
            assertArrayEquals(twoOpX0.toFloatArray(), gotX0, "flowStep x0 vs flowToX0");
            assertArrayEquals(twoOpNext.toFloatArray(), gotNext, "flowStep next vs addNoise");

            Tensor small = be.allocate(arena, DType.F32, n + 1);
            assertThrows(IllegalArgumentException.class,
                    () -> be.flowStep(x, small, x, sigma, nextSigma, x0, x));
        }
    }

    @ParameterizedTest(name = "n={0} threads={1}")
    @CsvSource({"1, 1", "7, 1", "13, 2", "40000, 2"})
    void activations(int n, int threads) {
        Random rnd = new Random(n);
        float[] x = TestTensors.gaussian(rnd, n);
        for (int i = 0; i < n; i++) {
            x[i] *= 4; // reach the saturating tails
        }
        if (n > 3) {
            x[0] = -30f;
            x[1] = 30f;
            x[2] = 0f;
        }
        try (Arena arena = Arena.ofShared(); CpuBackend be = new CpuBackend(threads)) {
            Tensor g = TestTensors.f32(arena, x, n);
            be.geluTanh(g);
            double[] want = new double[n];
            for (int i = 0; i < n; i++) {
                want[i] = ReferenceOps.gelu(x[i]);
            }
            TestTensors.assertClose("geluTanh", want, g.toFloatArray(), i -> 2e-6 * Math.abs(x[i]) + 1e-7);
            Tensor s = TestTensors.f32(arena, x, n);
            be.silu(s);
            for (int i = 0; i < n; i++) {
                want[i] = ReferenceOps.silu(x[i]);
            }
            TestTensors.assertClose("silu", want, s.toFloatArray(), i -> 2e-6 * Math.abs(x[i]) + 1e-7);
        }
    }

    @Test
    void rejectsMismatches() {
        try (Arena arena = Arena.ofShared(); CpuBackend be = new CpuBackend(1)) {
            Tensor x = be.allocate(arena, DType.F32, 6, 4);
            Tensor twoFrames = be.allocate(arena, DType.F32, 2, 4);
            assertThrows(IllegalArgumentException.class, () -> be.modulate(x, twoFrames, twoFrames, 2, x)); // needs 3 frames
            assertThrows(IllegalArgumentException.class, () -> be.gatedAdd(x, x, twoFrames, 0));
            assertThrows(IllegalArgumentException.class, () -> be.add(x, twoFrames));
            assertThrows(IllegalArgumentException.class, () -> be.addRow(x, be.allocate(arena, DType.F32, 5)));
            assertThrows(IllegalArgumentException.class, () -> be.silu(be.allocate(arena, DType.BF16, 4)));
        }
    }
}
