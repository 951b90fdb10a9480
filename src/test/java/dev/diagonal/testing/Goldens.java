package dev.diagonal.testing;

import dev.diagonal.io.SafetensorsFile;
import dev.diagonal.tensor.Tensor;

import java.io.IOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Golden outputs written by tools/reference/make_goldens.py (PyTorch, float64, saved as float32) and the one
 * comparison rule the engine's tests use against them.
 *
 * <p>Tolerance: max |actual - expected| <= rel · max|expected|, i.e. relative to the tensor's scale, not
 * elementwise (elementwise relative error is meaningless near zero crossings). The engine computes in fp32
 * against a float64 reference, so the error is fp32 rounding accumulated over the pass: about 1e-6 of the
 * scale per op; 1e-4 leaves room for long reductions (GEMM over K = ffn width, softmax over the cache) and
 * for several chained denoising steps while still catching any real mistake, which shows up at 1e-2 or more.
 */
public final class Goldens {
    /** The default tolerance, relative to the tensor's largest magnitude. */
    public static final double REL = 1e-4;

    private Goldens() {
    }

    public static SafetensorsFile open(String name) throws IOException {
        URL url = Goldens.class.getResource("/golden/" + name);
        if (url == null) {
            throw new IOException("golden file " + name + " is missing; run tools/reference/make_goldens.py");
        }
        try {
            return SafetensorsFile.open(Path.of(url.toURI()));
        } catch (URISyntaxException e) {
            throw new IOException(e);
        }
    }

    /** Asserts shape equality and closeness within {@code rel} of the expected tensor's largest magnitude. */
    public static void assertClose(String what, Tensor expected, Tensor actual, double rel) {
        assertArrayEquals(expected.shape(), actual.shape(), what + ": shape");
        float[] e = expected.toFloatArray();
        float[] a = actual.toFloatArray();
        double scale = 0;
        for (float v : e) {
            scale = Math.max(scale, Math.abs(v));
        }
        double worst = 0;
        int at = -1;
        for (int i = 0; i < e.length; i++) {
            double d = Math.abs((double) a[i] - e[i]);
            if (!(d <= worst)) {
                worst = d;
                at = i;
            }
        }
        if (!(worst <= rel * Math.max(scale, 1e-12))) {
            fail(String.format("%s: max |error| %.3g at %d (got %g, want %g) exceeds %.1g x scale %.4g; shape %s",
                    what, worst, at, a[at], e[at], rel, scale, Arrays.toString(expected.shape())));
        }
    }

    /** Largest |error| relative to the expected tensor's largest magnitude (for reports). */
    public static double relativeError(Tensor expected, Tensor actual) {
        float[] e = expected.toFloatArray();
        float[] a = actual.toFloatArray();
        double scale = 1e-12;
        double worst = 0;
        for (int i = 0; i < e.length; i++) {
            scale = Math.max(scale, Math.abs(e[i]));
            worst = Math.max(worst, Math.abs((double) a[i] - e[i]));
        }
        return worst / scale;
    }
}
