package dev.diagonal.backend.cpu;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VectorMathTest {
    private static final int L = FloatVector.SPECIES_PREFERRED.length();

    @Test
    void expIsAccurateAndLanesEqualTheScalarBitForBit() {
        SplittableRandom r = new SplittableRandom(1);
        float[] x = new float[L];
        float[] y = new float[L];
        double worst = 0;
        for (int trial = 0; trial < 20_000; trial++) {
            for (int i = 0; i < L; i++) {
                x[i] = (float) (r.nextDouble() * 180 - 90);
            }
            VectorMath.exp(FloatVector.fromArray(FloatVector.SPECIES_PREFERRED, x, 0)).intoArray(y, 0);
            for (int i = 0; i < L; i++) {
                assertEquals(Float.floatToRawIntBits(VectorMath.exp(x[i])), Float.floatToRawIntBits(y[i]), "lane vs scalar at x=" + x[i]);
                double want = Math.exp(x[i]);
                // Below -86, 2^n scales into denormals (as in expf); above 88, the clamp to float max applies.
                if (x[i] > -86f && x[i] < 88f) {
                    worst = Math.max(worst, Math.abs(y[i] - want) / want);
                }
            }
        }
        assertTrue(worst < 3e-7, "exp relative error " + worst);
    }

    @Test
    void tanhIsAccurateAndSaturates() {
        double worst = 0;
        for (float x = -12f; x <= 12f; x += 0.001f) {
            worst = Math.max(worst, Math.abs(VectorMath.tanh(x) - Math.tanh(x)));
        }
        assertTrue(worst < 3e-7, "tanh absolute error " + worst);
        assertEquals(1f, VectorMath.tanh(100f));
        assertEquals(-1f, VectorMath.tanh(-100f));
        assertEquals(0f, VectorMath.tanh(0f));
    }

    @Test
    void laneSumIsInOrder() {
        float[] v = new float[L];
        float want = 0;
        for (int i = 0; i < L; i++) {
            v[i] = 1f / (i + 3);
            want += v[i];
        }
        assertEquals(want, VectorMath.sum(FloatVector.fromArray(FloatVector.SPECIES_PREFERRED, v, 0)));
    }
}
