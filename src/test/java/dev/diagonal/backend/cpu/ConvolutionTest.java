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
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * conv3d against a direct double-precision convolution (zero padding in space, valid in time), and the 2x
 * nearest upsample against index arithmetic. Tolerance for conv3d: 1e-5 · Σ|x·w| + 1e-6 per output, fp32
 * GEMM rounding over K = kt·kh·kw·Cin terms. Shapes cover 1x1x1, (3,1,1), 3x3 and 3x3x3 kernels, widths
 * and channels off the vector length and 1 to 3 threads, on both paths: the direct one (Cout <= 64 with a
 * spatial kernel: one, two and three vectors of channels, rows shorter than and off the 8-pixel tile, a
 * 3-channel head) and im2col + GEMM (Cout > 64; the last case spans two im2col tiles).
 */
class ConvolutionTest {

    @ParameterizedTest(name = "T={0} H={1} W={2} Cin={3} Cout={4} k={5}x{6}x{7} threads={8}")
    @CsvSource({
            "1, 1, 1, 1, 1, 1, 1, 1, 1",
            "3, 5, 7, 3, 5, 3, 3, 3, 2",
            "4, 6, 4, 16, 8, 1, 3, 3, 2",
            "5, 2, 3, 7, 9, 3, 1, 1, 1",
            "2, 9, 11, 5, 17, 1, 1, 1, 3",
            "3, 33, 40, 48, 20, 3, 3, 3, 2",
            "3, 7, 21, 16, 48, 3, 3, 3, 2",
            "2, 4, 3, 5, 3, 1, 3, 3, 1",
            "4, 9, 16, 32, 64, 3, 3, 3, 2",
            "2, 5, 9, 6, 70, 1, 3, 3, 2",
            "4, 40, 40, 64, 72, 3, 3, 3, 2"})
    void conv3dMatchesDirectConvolution(int t, int h, int w, int cin, int cout, int kt, int kh, int kw, int threads) {
        Random rnd = new Random(31L * t + 7L * h + w + 1000L * cin);
        float[] x = TestTensors.gaussian(rnd, t * h * w * cin);
        float[] wt = TestTensors.gaussian(rnd, cout * kt * kh * kw * cin);
        float[] b = TestTensors.gaussian(rnd, cout);
        int tout = t - kt + 1;
        double[] want = new double[tout * h * w * cout];
        double[] mag = new double[want.length];
        for (int o = 0; o < tout; o++) {
            for (int y = 0; y < h; y++) {
                for (int xx = 0; xx < w; xx++) {
                    for (int co = 0; co < cout; co++) {
                        double s = b[co], m = Math.abs(b[co]);
                        for (int dt = 0; dt < kt; dt++) {
                            for (int dy = 0; dy < kh; dy++) {
                                for (int dx = 0; dx < kw; dx++) {
                                    int sy = y + dy - kh / 2, sx = xx + dx - kw / 2;
                                    if (sy < 0 || sy >= h || sx < 0 || sx >= w) {
                                        continue;
                                    }
                                    for (int ci = 0; ci < cin; ci++) {
                                        double p = (double) x[(((o + dt) * h + sy) * w + sx) * cin + ci]
                                                * wt[(((co * kt + dt) * kh + dy) * kw + dx) * cin + ci];
                                        s += p;
                                        m += Math.abs(p);
                                    }
                                }
                            }
                        }
                        int i = ((o * h + y) * w + xx) * cout + co;
                        want[i] = s;
                        mag[i] = m;
                    }
                }
            }
        }
        try (Arena arena = Arena.ofShared(); CpuBackend be = new CpuBackend(threads)) {
            Tensor out = be.allocate(arena, DType.F32, tout, h, w, cout);
            be.conv3d(TestTensors.f32(arena, x, t, h, w, cin), TestTensors.f32(arena, wt, cout, kt, kh, kw, cin),
                    TestTensors.f32(arena, b, cout), out);
            TestTensors.assertClose("conv3d", want, out.toFloatArray(), i -> 1e-5 * mag[i] + 1e-6);
        }
    }

    @Test
    void upsampleRepeatsEachPixelTwiceInBothDirections() {
        int t = 2, h = 3, w = 5, c = 19;
        float[] x = TestTensors.gaussian(new Random(5), t * h * w * c);
        try (Arena arena = Arena.ofShared(); CpuBackend be = new CpuBackend(2)) {
            Tensor out = be.allocate(arena, DType.F32, t, 2 * h, 2 * w, c);
            be.upsampleNearest2x(TestTensors.f32(arena, x, t, h, w, c), out);
            float[] want = new float[t * 4 * h * w * c];
            for (int f = 0; f < t; f++) {
                for (int y = 0; y < 2 * h; y++) {
                    for (int xx = 0; xx < 2 * w; xx++) {
                        System.arraycopy(x, ((f * h + y / 2) * w + xx / 2) * c, want, ((f * 2 * h + y) * 2 * w + xx) * c, c);
                    }
                }
            }
            assertArrayEquals(want, out.toFloatArray());
        }
    }

    @Test
    void rejectsMisshapedArguments() {
        try (Arena arena = Arena.ofShared(); CpuBackend be = new CpuBackend(1)) {
            Tensor x = be.allocate(arena, DType.F32, 3, 4, 4, 8);
            Tensor even = be.allocate(arena, DType.F32, 2, 3, 2, 2, 8);
            Tensor wrongCin = be.allocate(arena, DType.F32, 2, 3, 3, 3, 7);
            Tensor ok = be.allocate(arena, DType.F32, 2, 3, 3, 3, 8);
            Tensor out = be.allocate(arena, DType.F32, 1, 4, 4, 2);
            Tensor badOut = be.allocate(arena, DType.F32, 3, 4, 4, 2);
            String m1 = assertThrows(IllegalArgumentException.class, () -> be.conv3d(x, even, null, out)).getMessage();
            assertTrue(m1.contains("kh and kw odd"), m1);
            assertThrows(IllegalArgumentException.class, () -> be.conv3d(x, wrongCin, null, out));
            String m2 = assertThrows(IllegalArgumentException.class, () -> be.conv3d(x, ok, null, badOut)).getMessage();
            assertTrue(m2.contains("[1, 4, 4, 2]"), m2);
            assertThrows(IllegalArgumentException.class,
                    () -> be.upsampleNearest2x(x, be.allocate(arena, DType.F32, 3, 8, 7, 8)));
        }
    }
}
