package dev.diagonal.backend.cuda;

// ENABLE AT MERGE: move this file to src/test/java/dev/diagonal/backend/cuda/ once Backend and CpuBackend have
// flowStep and flowWarpError (they come from other branches); until then it does not compile, which is why it
// sits outside the test sources. After the merge, CudaBackend's flowStep and flowWarpError become overrides.

import dev.diagonal.backend.cpu.CpuBackend;
import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The CUDA backend's flowStep and flowWarpError against the CPU backend's. Tolerances relative to the largest
 * expected value: flowStep 1e-6 (the kernel rounds as the CPU's axpby does); flowWarpError 1e-3 (a sharp
 * softmax, temperature 0.02, over fp32 colour distances, and per-block partial sums added with atomics in any
 * order; a wrong window, clamp or warp changes the error by tens of percent).
 */
@Tag("gpu")
class CudaFlowOpsTest {
    private static CudaBackend gpu;
    private static CpuBackend cpu;

    @BeforeAll
    static void open() {
        try {
            gpu = CudaBackend.open(0);
        } catch (CudaUnavailableException e) {
            assumeTrue(false, "no usable GPU: " + e.getMessage());
        }
        cpu = new CpuBackend(2);
    }

    @AfterAll
    static void close() {
        if (gpu != null) {
            gpu.close();
        }
        if (cpu != null) {
            cpu.close();
        }
    }

    @Test
    void flowStepMatchesTheCpu() {
        Random rnd = new Random(5);
        int n = 16 * 3 * 60 * 104;
        try (Arena arena = Arena.ofShared()) {
            Tensor xt = gaussian(arena, rnd, n);
            Tensor v = gaussian(arena, rnd, n);
            Tensor noise = gaussian(arena, rnd, n);
            Tensor x0 = Tensor.allocate(arena, DType.F32, n);
            Tensor next = Tensor.allocate(arena, DType.F32, n);
            cpu.flowStep(xt, v, noise, 0.9375f, 0.6f, x0, next);
            Tensor dx0 = gpu.allocate(arena, DType.F32, n);
            Tensor dnext = gpu.allocate(arena, DType.F32, n);
            gpu.flowStep(dev(arena, xt), dev(arena, v), dev(arena, noise), 0.9375f, 0.6f, dx0, dnext);
            assertClose("flowStep x0", x0.toFloatArray(), back(arena, dx0), 1e-6);
            assertClose("flowStep next", next.toFloatArray(), back(arena, dnext), 1e-6);
            gpu.synchronize();
        }
    }

    @Test
    void flowWarpErrorMatchesTheCpu() {
        Random rnd = new Random(7);
        // {count, H, W, C, window}
        int[][] cases = {{4, 32, 48, 3, 7}, {2, 17, 23, 3, 7}, {3, 8, 8, 1, 3}, {2, 1, 9, 3, 5}};
        for (int[] c : cases) {
            int count = c[0], h = c[1], w = c[2], ch = c[3], window = c[4];
            try (Arena arena = Arena.ofShared()) {
                // A textured frame moving one pixel right per frame, with a little noise: a flow to find.
                Tensor frames = Tensor.allocate(arena, DType.F32, count, h, w, ch);
                float[] base = new float[h * (w + count) * ch];
                for (int i = 0; i < base.length; i++) {
                    base[i] = (float) Math.tanh(rnd.nextGaussian());
                }
                for (int t = 0; t < count; t++) {
                    for (int y = 0; y < h; y++) {
                        for (int x = 0; x < w; x++) {
                            for (int k = 0; k < ch; k++) {
                                float v = base[(y * (w + count) + x + count - t) * ch + k] + 0.02f * (float) rnd.nextGaussian();
                                frames.setFloat(((long) (t * h + y) * w + x) * ch + k, Math.max(-1f, Math.min(1f, v)));
                            }
                        }
                    }
                }
                Tensor want = Tensor.allocate(arena, DType.F32, count - 1);
                cpu.flowWarpError(frames, window, 0.02f, want);
                Tensor error = gpu.allocate(arena, DType.F32, count - 1);
                float[] stale = new float[count - 1];
                java.util.Arrays.fill(stale, 123f); // what a previous call left: the launcher must zero it
                gpu.copy(Tensor.ofFloats(arena, stale, count - 1), error);
                gpu.flowWarpError(dev(arena, frames), window, 0.02f, error);
                float[] got = back(arena, error);
                assertClose("flowWarpError " + java.util.Arrays.toString(c), want.toFloatArray(), got, 1e-3);
                // And again on its own result, for the same reason.
                gpu.flowWarpError(dev(arena, frames), window, 0.02f, error);
                assertClose("flowWarpError again", want.toFloatArray(), back(arena, error), 1e-3);
                gpu.synchronize();
            }
        }
    }

    private static Tensor gaussian(Arena arena, Random rnd, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) rnd.nextGaussian();
        }
        return Tensor.ofFloats(arena, v, n);
    }

    private static Tensor dev(Arena arena, Tensor host) {
        Tensor d = gpu.allocate(arena, host.dtype(), host.shape());
        gpu.copy(host, d);
        return d;
    }

    private static float[] back(Arena arena, Tensor device) {
        Tensor h = Tensor.allocate(arena, device.dtype(), device.shape());
        gpu.copy(device, h);
        return h.toFloatArray();
    }

    private static void assertClose(String what, float[] want, float[] got, double rel) {
        assertEquals(want.length, got.length, what);
        double scale = 0;
        for (float v : want) {
            scale = Math.max(scale, Math.abs(v));
        }
        assertTrue(scale > 0, what + ": the reference is all zeros, so the test could not fail");
        for (int i = 0; i < want.length; i++) {
            double d = Math.abs((double) got[i] - want[i]);
            assertTrue(d <= rel * scale, what + ": element " + i + " is " + got[i] + ", expected " + want[i]
                    + " (|diff| " + d + " > " + rel + " x " + scale + ")");
        }
    }
}
