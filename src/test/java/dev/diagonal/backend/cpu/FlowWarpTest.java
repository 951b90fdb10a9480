package dev.diagonal.backend.cpu;

import dev.diagonal.io.SafetensorsFile;
import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;
import dev.diagonal.testing.Goldens;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.Arena;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * flowWarpError against tools/eval/metrics.py flow_warp_error (golden written by
 * tools/reference/flow_warp_golden.py): a moving blob on a gradient with the metric's defaults (window 7,
 * temperature 0.02) and uniform noise with window 5, temperature 0.1. Tolerance: 1e-5 relative per element
 * against the float64 reference (the Java side computes in double from the same float32 inputs, so only the
 * final rounding to float32 and summation order remain), and 1e-4 against the metric as it runs in float32
 * (its own rounding, amplified by 1 / temperature in the softmax). Real mistakes move the result by far
 * more: swapping the flow's x and y components changes it by 15% (noise) to 70% (blob).
 */
class FlowWarpTest {

    @Test
    void matchesTheMetricOnAMovingBlob() throws IOException {
        try (SafetensorsFile golden = Goldens.open("flow_warp_golden.safetensors");
             CpuBackend be = new CpuBackend(2); Arena arena = Arena.ofShared()) {
            float[] got = run(be, arena, golden.tensor("blob"), 7, 0.02f);
            assertRelative("blob vs float64", golden.tensor("blob_error").toFloatArray(), got, 1e-5);
            assertRelative("blob vs float32 metric", golden.tensor("blob_error32").toFloatArray(), got, 1e-4);
        }
    }

    @Test
    void matchesTheMetricOnNoiseWithAnotherWindowAndTemperature() throws IOException {
        try (SafetensorsFile golden = Goldens.open("flow_warp_golden.safetensors");
             CpuBackend be = new CpuBackend(3); Arena arena = Arena.ofShared()) {
            float[] got = run(be, arena, golden.tensor("noise"), 5, 0.1f);
            assertRelative("noise vs float64", golden.tensor("noise_error").toFloatArray(), got, 1e-5);
        }
    }

    @Test
    void resultDoesNotDependOnThreads() throws IOException {
        try (SafetensorsFile golden = Goldens.open("flow_warp_golden.safetensors");
             CpuBackend one = new CpuBackend(1); CpuBackend three = new CpuBackend(3);
             Arena arena = Arena.ofShared()) {
            Tensor blob = golden.tensor("blob");
            assertArrayEquals(run(one, arena, blob, 7, 0.02f), run(three, arena, blob, 7, 0.02f));
        }
    }

    @Test
    void rejectsBadArguments() {
        try (CpuBackend be = new CpuBackend(1); Arena arena = Arena.ofShared()) {
            Tensor frames = be.allocate(arena, DType.F32, 3, 4, 5, 3);
            Tensor error = be.allocate(arena, DType.F32, 2);
            be.flowWarpError(frames, 3, 0.02f, error); // the valid call the others vary

            String shape = assertThrows(IllegalArgumentException.class,
                    () -> be.flowWarpError(frames, 3, 0.02f, be.allocate(arena, DType.F32, 3))).getMessage();
            assertTrue(shape.contains("must be [2]"), shape);
            assertThrows(IllegalArgumentException.class,
                    () -> be.flowWarpError(frames.reshape(3, 20, 3), 3, 0.02f, error));
            String single = assertThrows(IllegalArgumentException.class, () -> be.flowWarpError(
                    be.allocate(arena, DType.F32, 1, 4, 5, 3), 3, 0.02f, be.allocate(arena, DType.F32, 0))).getMessage();
            assertTrue(single.contains("at least 2 frames"), single);
            String even = assertThrows(IllegalArgumentException.class,
                    () -> be.flowWarpError(frames, 4, 0.02f, error)).getMessage();
            assertTrue(even.contains("odd"), even);
            assertThrows(IllegalArgumentException.class, () -> be.flowWarpError(frames, 0, 0.02f, error));
            assertThrows(IllegalArgumentException.class, () -> be.flowWarpError(frames, 3, 0f, error));
            assertThrows(IllegalArgumentException.class, () -> be.flowWarpError(frames, 3, Float.NaN, error));
            assertThrows(IllegalArgumentException.class,
                    () -> be.flowWarpError(be.allocate(arena, DType.BF16, 3, 4, 5, 3), 3, 0.02f, error));
        }
    }

    private static float[] run(CpuBackend be, Arena arena, Tensor video, int window, float temperature) {
        Tensor frames = be.allocate(arena, DType.F32, video.shape());
        be.copy(video, frames);
        Tensor error = be.allocate(arena, DType.F32, video.dim(0) - 1);
        be.flowWarpError(frames, window, temperature, error);
        return error.toFloatArray();
    }

    private static void assertRelative(String what, float[] want, float[] got, double rel) {
        assertArrayEquals(new int[] {want.length}, new int[] {got.length}, what + ": length");
        for (int i = 0; i < want.length; i++) {
            double d = Math.abs((double) got[i] - want[i]);
            if (!(d <= rel * Math.abs(want[i]))) {
                fail(String.format("%s: error[%d] = %.9g, want %.9g (|diff| %.3g > %.1g relative)",
                        what, i, got[i], want[i], d, rel));
            }
        }
    }
}
