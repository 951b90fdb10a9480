package dev.diagonal.backend.cpu;

import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;

import java.lang.foreign.Arena;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.fail;

/** Random tensors and a tolerance-aware comparison for the op tests. */
final class TestTensors {
    private TestTensors() {
    }

    static float[] gaussian(Random rnd, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) rnd.nextGaussian();
        }
        return a;
    }

    static Tensor f32(Arena arena, float[] v, long... shape) {
        return Tensor.ofFloats(arena, v, shape);
    }

    /** A tensor of dtype holding v rounded to that dtype; v is overwritten with the rounded values. */
    static Tensor rounded(Arena arena, DType dtype, float[] v, long... shape) {
        Tensor t = Tensor.allocate(arena, dtype, shape);
        for (int i = 0; i < v.length; i++) {
            t.setFloat(i, v[i]);
            v[i] = t.getFloat(i);
        }
        return t;
    }

    /** Fails with the first element where |got - want| > tol(i). */
    static void assertClose(String what, double[] want, float[] got, java.util.function.IntToDoubleFunction tol) {
        if (want.length != got.length) {
            fail(what + ": length " + got.length + " != " + want.length);
        }
        for (int i = 0; i < want.length; i++) {
            double t = tol.applyAsDouble(i);
            if (!(Math.abs(got[i] - want[i]) <= t)) {
                fail(what + ": element " + i + " got " + got[i] + " want " + want[i] + " (tol " + t + ")");
            }
        }
    }

    static double[] widen(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            d[i] = a[i];
        }
        return d;
    }
}
