package dev.diagonal.backend.cpu;

import dev.diagonal.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * LayerNorm and RMSNorm over the last axis, in float vectors. LayerNorm uses two passes: a first mean hi,
 * then sums of d = x - hi and d² (the corrected two-pass algorithm). Subtracting hi first avoids the
 * cancellation of E[x²] - E[x]², and keeping the mean as hi + lo (lo = Σd/n) keeps rows with a large mean
 * accurate: a single float mean would be off by up to half an ulp of the mean, shifting every output.
 */
final class Norms {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private final Parallel parallel;

    Norms(Parallel parallel) {
        this.parallel = parallel;
    }

    void layerNorm(Tensor x, Tensor weight, Tensor bias, float eps, Tensor out) {
        String op = "layerNorm";
        int cols = check(op, x, out);
        if (weight != null) {
            Checks.vectorOf(op, "weight", weight, cols);
        }
        if (bias != null) {
            Checks.vectorOf(op, "bias", bias, cols);
        }
        float[] w = weight == null ? null : Widen.toArray(weight);
        float[] b = bias == null ? null : Widen.toArray(bias);
        MemorySegment xs = x.data(), os = out.data();
        forRows(x, out, cols, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                long base = (long) r * cols * 4;
                float hi = sum(xs, base, cols, 0f, false) / cols;
                // Second pass on d = x - hi: Σd gives the mean's rounding residue lo, Σd² the variance.
                float[] s12 = deviations(xs, base, cols, hi);
                float lo = s12[0] / cols;
                float var = Math.max(0f, s12[1] / cols - lo * lo);
                float rstd = (float) (1.0 / Math.sqrt((double) var + eps));
                scaleRow(xs, os, base, cols, hi, lo, rstd, w, b);
            }
        });
    }

    void rmsNorm(Tensor x, Tensor weight, float eps, Tensor out) {
        String op = "rmsNorm";
        int cols = check(op, x, out);
        if (weight != null) {
            Checks.vectorOf(op, "weight", weight, cols);
        }
        float[] w = weight == null ? null : Widen.toArray(weight);
        MemorySegment xs = x.data(), os = out.data();
        forRows(x, out, cols, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                long base = (long) r * cols * 4;
                float ms = sum(xs, base, cols, 0f, true) / cols;
                float rstd = (float) (1.0 / Math.sqrt((double) ms + eps));
                scaleRow(xs, os, base, cols, 0f, 0f, rstd, w, null);
            }
        });
    }

    private static int check(String op, Tensor x, Tensor out) {
        Checks.f32(op, "x", x);
        Checks.f32(op, "out", out);
        Checks.sameShape(op, "x", x, "out", out);
        return Checks.cols(op, "x", x);
    }

    private void forRows(Tensor x, Tensor out, int cols, Parallel.RangeBody body) {
        int rows = Checks.toInt("norm", "rows", Checks.rows(x));
        if (cols == 0) {
            return;
        }
        Parallel par = parallel.usableFor(x, out);
        par.forRange(rows, par.grain(rows, Math.max(1, 8192 / cols)), body);
    }

    /** Σ x (squares = false) or Σ (x - center)² (squares = true) over one row. */
    private static float sum(MemorySegment xs, long base, int cols, float center, boolean squares) {
        FloatVector acc = FloatVector.zero(F);
        FloatVector c = FloatVector.broadcast(F, center);
        int i = 0;
        for (; i <= cols - L; i += L) {
            FloatVector v = FloatVector.fromMemorySegment(F, xs, base + 4L * i, LE);
            if (squares) {
                v = v.sub(c);
                acc = v.fma(v, acc);
            } else {
                acc = acc.add(v);
            }
        }
        float s = VectorMath.sum(acc);
        for (; i < cols; i++) {
            float v = xs.get(F32, base + 4L * i);
            s += squares ? (v - center) * (v - center) : v;
        }
        return s;
    }

    /** {Σ (x - hi), Σ (x - hi)²} over one row. */
    private static float[] deviations(MemorySegment xs, long base, int cols, float hi) {
        FloatVector s1 = FloatVector.zero(F), s2 = FloatVector.zero(F);
        int i = 0;
        for (; i <= cols - L; i += L) {
            FloatVector d = FloatVector.fromMemorySegment(F, xs, base + 4L * i, LE).sub(hi);
            s1 = s1.add(d);
            s2 = d.fma(d, s2);
        }
        float a = VectorMath.sum(s1), b = VectorMath.sum(s2);
        for (; i < cols; i++) {
            float d = xs.get(F32, base + 4L * i) - hi;
            a += d;
            b += d * d;
        }
        return new float[] {a, b};
    }

    /** out = ((x - hi) - lo) * rstd [* w] [+ b] for one row. */
    private static void scaleRow(MemorySegment xs, MemorySegment os, long base, int cols, float hi, float lo,
                                 float rstd, float[] w, float[] b) {
        int i = 0;
        for (; i <= cols - L; i += L) {
            FloatVector v = FloatVector.fromMemorySegment(F, xs, base + 4L * i, LE).sub(hi).sub(lo).mul(rstd);
            if (w != null) {
                v = v.mul(FloatVector.fromArray(F, w, i));
            }
            if (b != null) {
                v = v.add(FloatVector.fromArray(F, b, i));
            }
            v.intoMemorySegment(os, base + 4L * i, LE);
        }
        for (; i < cols; i++) {
            float v = (xs.get(F32, base + 4L * i) - hi - lo) * rstd;
            if (w != null) {
                v *= w[i];
            }
            if (b != null) {
                v += b[i];
            }
            os.set(F32, base + 4L * i, v);
        }
    }
}
