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
 * biasedAttention against a double-precision softmax, with masked keys (bias -inf, or float's lowest value as
 * Wan's T5 writes it); and mul against float products. Tolerance 2e-5 · Σ|p·v| + 1e-6: float logits and sums.
 */
class BiasedAttentionTest {

    @ParameterizedTest(name = "nq={0} nk={1} heads={2} hd={3} threads={4}")
    @CsvSource({"1, 1, 1, 1, 1", "5, 7, 2, 3, 2", "16, 16, 4, 8, 2", "33, 20, 3, 64, 3"})
    void matchesDoubleSoftmaxWithBiasAndMask(int nq, int nk, int heads, int hd, int threads) {
        Random rnd = new Random(nq * 31L + nk);
        int w = heads * hd;
        float[] q = TestTensors.gaussian(rnd, nq * w), k = TestTensors.gaussian(rnd, nk * w),
                v = TestTensors.gaussian(rnd, nk * w), bias = TestTensors.gaussian(rnd, heads * nq * nk);
        for (int i = 0; i < bias.length; i++) {
            int j = i % nk;
            if (nk > 2 && j == nk - 1) {
                bias[i] = Float.NEGATIVE_INFINITY;
            } else if (nk > 2 && j == nk - 2) {
                bias[i] = -Float.MAX_VALUE;
            }
        }
        float scale = 0.7f;
        double[] want = new double[nq * w], mag = new double[nq * w];
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < nq; i++) {
                double[] l = new double[nk];
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < nk; j++) {
                    double d = 0;
                    for (int c = 0; c < hd; c++) {
                        d += (double) q[i * w + h * hd + c] * k[j * w + h * hd + c];
                    }
                    l[j] = scale * d + bias[(h * nq + i) * nk + j];
                    max = Math.max(max, l[j]);
                }
                double sum = 0;
                for (int j = 0; j < nk; j++) {
                    l[j] = Math.exp(l[j] - max);
                    sum += l[j];
                }
                for (int c = 0; c < hd; c++) {
                    double s = 0, m = 0;
                    for (int j = 0; j < nk; j++) {
                        s += l[j] / sum * v[j * w + h * hd + c];
                        m += Math.abs(l[j] / sum * v[j * w + h * hd + c]);
                    }
                    want[i * w + h * hd + c] = s;
                    mag[i * w + h * hd + c] = m;
                }
            }
        }
        try (Arena arena = Arena.ofShared(); CpuBackend be = new CpuBackend(threads)) {
            Tensor out = be.allocate(arena, DType.F32, nq, w);
            be.biasedAttention(TestTensors.f32(arena, q, nq, w), TestTensors.f32(arena, k, nk, w),
                    TestTensors.f32(arena, v, nk, w), TestTensors.f32(arena, bias, heads, nq, nk), heads, scale, out);
            TestTensors.assertClose("biasedAttention", want, out.toFloatArray(), i -> 2e-5 * mag[i] + 1e-6);
        }
    }

    @Test
    void mulIsElementwiseAndRejectsMismatch() {
        Random rnd = new Random(3);
        float[] x = TestTensors.gaussian(rnd, 1037), y = TestTensors.gaussian(rnd, 1037);
        float[] want = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            want[i] = x[i] * y[i];
        }
        try (Arena arena = Arena.ofShared(); CpuBackend be = new CpuBackend(2)) {
            Tensor xt = TestTensors.f32(arena, x, 1037);
            be.mul(xt, TestTensors.f32(arena, y, 1037));
            assertArrayEquals(want, xt.toFloatArray());
            assertThrows(IllegalArgumentException.class, () -> be.mul(xt, be.allocate(arena, DType.F32, 5)));
            assertThrows(IllegalArgumentException.class, () -> be.biasedAttention(xt.reshape(1037, 1), xt.reshape(1037, 1),
                    xt.reshape(1037, 1), be.allocate(arena, DType.F32, 1, 1, 1), 1, 1f, be.allocate(arena, DType.F32, 1037, 1)));
        }
    }
}
