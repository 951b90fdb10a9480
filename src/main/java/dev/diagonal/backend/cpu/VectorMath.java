package dev.diagonal.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * exp, tanh and horizontal sums that give the same bits in every JIT tier and on every path.
 *
 * <p>Why not the Vector API's own: {@code lanewise(EXP)} and {@code lanewise(TANH)} run an intrinsic stub in
 * C2 and {@code Math.exp} in the fallback, and {@code reduceLanes(ADD)} sums in a different order in each;
 * the results differ in the last bit, so the same seed gave a different video depending on how warm the JIT
 * was. These are built from add, mul and fma only, which are exact IEEE operations everywhere, and the
 * scalar versions follow the vector ones operation for operation, so a tail element rounds as a lane would.
 *
 * <p>exp is Cephes' expf: n = round(x / ln 2) by the 1.5·2^23 trick, r = x - n ln 2 in two parts, a degree-5
 * polynomial, then 2^n through the exponent bits; relative error about 1 ulp over the clamped range.
 */
final class VectorMath {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED;

    private static final float HI = 88.3762626647949f;
    private static final float LO = -87.3365447504019f;
    private static final float LOG2E = 1.44269504088896341f;
    private static final float MAGIC = 12582912f; // 1.5 * 2^23: adding it rounds to an integer
    private static final float LN2_HI = 0.693359375f;
    private static final float LN2_LO = -2.12194440e-4f;
    private static final float P0 = 1.9875691500e-4f;
    private static final float P1 = 1.3981999507e-3f;
    private static final float P2 = 8.3334519073e-3f;
    private static final float P3 = 4.1665795894e-2f;
    private static final float P4 = 1.6666665459e-1f;
    private static final float P5 = 5.0000001201e-1f;

    private VectorMath() {
    }

    static FloatVector exp(FloatVector x) {
        x = x.max(LO).min(HI);
        FloatVector t = x.fma(FloatVector.broadcast(F, LOG2E), FloatVector.broadcast(F, MAGIC));
        FloatVector n = t.sub(MAGIC);
        FloatVector r = n.fma(FloatVector.broadcast(F, -LN2_HI), x);
        r = n.fma(FloatVector.broadcast(F, -LN2_LO), r);
        FloatVector p = r.fma(FloatVector.broadcast(F, P0), FloatVector.broadcast(F, P1));
        p = p.fma(r, FloatVector.broadcast(F, P2));
        p = p.fma(r, FloatVector.broadcast(F, P3));
        p = p.fma(r, FloatVector.broadcast(F, P4));
        p = p.fma(r, FloatVector.broadcast(F, P5));
        FloatVector y = p.mul(r).fma(r, r).add(1f);
        IntVector bits = t.reinterpretAsInts().sub(Float.floatToRawIntBits(MAGIC)).add(127).lanewise(VectorOperators.LSHL, 23);
        return y.mul(bits.reinterpretAsFloats());
    }

    static float exp(float x) {
        x = Math.min(Math.max(x, LO), HI);
        float t = Math.fma(x, LOG2E, MAGIC);
        float n = t - MAGIC;
        float r = Math.fma(n, -LN2_HI, x);
        r = Math.fma(n, -LN2_LO, r);
        float p = Math.fma(r, P0, P1);
        p = Math.fma(p, r, P2);
        p = Math.fma(p, r, P3);
        p = Math.fma(p, r, P4);
        p = Math.fma(p, r, P5);
        float y = Math.fma(p * r, r, r) + 1f;
        int bits = (Float.floatToRawIntBits(t) - Float.floatToRawIntBits(MAGIC) + 127) << 23;
        return y * Float.intBitsToFloat(bits);
    }

    /** tanh(x) = 1 - 2 / (exp(2x) + 1): saturates cleanly to ±1; absolute error about 1e-7 near 0. */
    static FloatVector tanh(FloatVector x) {
        FloatVector e = exp(x.add(x)).add(1f);
        return FloatVector.broadcast(F, 1f).sub(FloatVector.broadcast(F, 2f).div(e));
    }

    static float tanh(float x) {
        float e = exp(x + x) + 1f;
        return 1f - 2f / e;
    }

    /** Sum of the lanes from first to last: one fixed order on every tier. */
    static float sum(FloatVector v) {
        return sum(v, new float[v.length()]);
    }

    /**
     * The same sum through the caller's buffer of at least a vector's length, for hot loops. Through an array,
     * not lane(i) or toArray(): C2 compiles a lane read with a loop index into a bounds-checked extract per
     * lane, and toArray into an allocation; either cost 6-7% of a default-model stream on AVX2.
     */
    static float sum(FloatVector v, float[] lanes) {
        v.intoArray(lanes, 0);
        float s = 0f;
        for (int i = 0; i < v.length(); i++) {
            s += lanes[i];
        }
        return s;
    }

    static {
        if (I.length() != F.length()) {
            throw new ExceptionInInitializerError("int and float vector species differ in length");
        }
    }
}
