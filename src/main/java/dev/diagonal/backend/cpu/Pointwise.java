package dev.diagonal.backend.cpu;

import dev.diagonal.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Elementwise and row-broadcast ops on F32 activations (memory-bound: vectorized, split over rows).
 * Outputs may alias inputs exactly (each element is read before it is written, at the same index).
 */
final class Pointwise {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** Elements per chunk below which a loop is not worth a thread hand-off. */
    private static final int MIN_ELEMENTS = 1 << 15;
    private static final float SQRT_2_OVER_PI = (float) Math.sqrt(2.0 / Math.PI);

    private final Parallel parallel;

    Pointwise(Parallel parallel) {
        this.parallel = parallel;
    }

    /** Runs body over rows [0, rows) of length cols, chunked so each chunk has enough elements. */
    private void rows(Parallel par, long rows, int cols, Parallel.RangeBody body) {
        int n = Checks.toInt("pointwise", "rows", rows);
        int minRows = Math.max(1, MIN_ELEMENTS / Math.max(1, cols));
        par.forRange(n, par.grain(n, minRows), body);
    }

    /** Flat elementwise loop over [0, numel), split into whole vector-sized chunks. */
    private void flat(Parallel par, long numel, FlatBody body) {
        long blocks = (numel + 1023) / 1024;
        int nb = Checks.toInt("pointwise", "blocks", blocks);
        par.forRange(nb, par.grain(nb, MIN_ELEMENTS / 1024), (b0, b1) ->
                body.run(b0 * 1024L, Math.min(numel, b1 * 1024L)));
    }

    @FunctionalInterface
    private interface FlatBody {
        void run(long from, long to);
    }

    void modulate(Tensor x, Tensor shift, Tensor scale, int rowsPerFrame, Tensor out) {
        String op = "modulate";
        Checks.f32(op, "x", x);
        Checks.f32(op, "out", out);
        Checks.sameShape(op, "x", x, "out", out);
        int cols = Checks.cols(op, "x", x);
        long rows = Checks.rows(x);
        perFrame(op, "shift", shift, cols, rows, rowsPerFrame);
        perFrame(op, "scale", scale, cols, rows, rowsPerFrame);
        MemorySegment xs = x.data(), os = out.data(), sh = shift.data(), sc = scale.data();
        FloatVector one = FloatVector.broadcast(F, 1f);
        rows(parallel.usableFor(x, out, shift, scale), rows, cols, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                long row = (long) r * cols * 4;
                long fr = (long) (r / rowsPerFrame) * cols * 4;
                int c = 0;
                for (; c <= cols - L; c += L) {
                    FloatVector v = FloatVector.fromMemorySegment(F, xs, row + 4L * c, LE);
                    FloatVector s = FloatVector.fromMemorySegment(F, sc, fr + 4L * c, LE).add(one);
                    FloatVector b = FloatVector.fromMemorySegment(F, sh, fr + 4L * c, LE);
                    v.fma(s, b).intoMemorySegment(os, row + 4L * c, LE);
                }
                for (; c < cols; c++) {
                    float v = xs.get(F32, row + 4L * c);
                    os.set(F32, row + 4L * c, Math.fma(v, 1f + sc.get(F32, fr + 4L * c), sh.get(F32, fr + 4L * c)));
                }
            }
        });
    }

    void gatedAdd(Tensor x, Tensor y, Tensor gate, int rowsPerFrame) {
        String op = "gatedAdd";
        Checks.f32(op, "x", x);
        Checks.f32(op, "y", y);
        Checks.sameShape(op, "x", x, "y", y);
        int cols = Checks.cols(op, "x", x);
        long rows = Checks.rows(x);
        perFrame(op, "gate", gate, cols, rows, rowsPerFrame);
        MemorySegment xs = x.data(), ys = y.data(), gs = gate.data();
        rows(parallel.usableFor(x, y, gate), rows, cols, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                long row = (long) r * cols * 4;
                long fr = (long) (r / rowsPerFrame) * cols * 4;
                int c = 0;
                for (; c <= cols - L; c += L) {
                    FloatVector v = FloatVector.fromMemorySegment(F, ys, row + 4L * c, LE);
                    FloatVector g = FloatVector.fromMemorySegment(F, gs, fr + 4L * c, LE);
                    FloatVector a = FloatVector.fromMemorySegment(F, xs, row + 4L * c, LE);
                    v.fma(g, a).intoMemorySegment(xs, row + 4L * c, LE);
                }
                for (; c < cols; c++) {
                    long at = row + 4L * c;
                    xs.set(F32, at, Math.fma(ys.get(F32, at), gs.get(F32, fr + 4L * c), xs.get(F32, at)));
                }
            }
        });
    }

    void addRow(Tensor x, Tensor row) {
        String op = "addRow";
        Checks.f32(op, "x", x);
        int cols = Checks.cols(op, "x", x);
        Checks.vectorOf(op, "row", row, cols);
        float[] add = Widen.toArray(row);
        MemorySegment xs = x.data();
        rows(parallel.usableFor(x), Checks.rows(x), cols, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                long base = (long) r * cols * 4;
                int c = 0;
                for (; c <= cols - L; c += L) {
                    FloatVector.fromMemorySegment(F, xs, base + 4L * c, LE)
                            .add(FloatVector.fromArray(F, add, c))
                            .intoMemorySegment(xs, base + 4L * c, LE);
                }
                for (; c < cols; c++) {
                    xs.set(F32, base + 4L * c, xs.get(F32, base + 4L * c) + add[c]);
                }
            }
        });
    }

    void add(Tensor x, Tensor y) {
        binary("add", x, y, false);
    }

    void mul(Tensor x, Tensor y) {
        binary("mul", x, y, true);
    }

    private void binary(String op, Tensor x, Tensor y, boolean multiply) {
        Checks.f32(op, "x", x);
        Checks.f32(op, "y", y);
        if (x.numel() != y.numel()) {
            throw Checks.fail(op, "x " + x + " and y " + y + " differ in element count");
        }
        MemorySegment xs = x.data(), ys = y.data();
        flat(parallel.usableFor(x, y), x.numel(), (from, to) -> {
            long i = from;
            for (; i <= to - L; i += L) {
                FloatVector a = FloatVector.fromMemorySegment(F, xs, 4 * i, LE);
                FloatVector b = FloatVector.fromMemorySegment(F, ys, 4 * i, LE);
                (multiply ? a.mul(b) : a.add(b)).intoMemorySegment(xs, 4 * i, LE);
            }
            for (; i < to; i++) {
                float a = xs.get(F32, 4 * i), b = ys.get(F32, 4 * i);
                xs.set(F32, 4 * i, multiply ? a * b : a + b);
            }
        });
    }

    void geluTanh(Tensor x) {
        Checks.f32("geluTanh", "x", x);
        MemorySegment xs = x.data();
        FloatVector half = FloatVector.broadcast(F, 0.5f);
        flat(parallel.usableFor(x), x.numel(), (from, to) -> {
            long i = from;
            for (; i <= to - L; i += L) {
                FloatVector v = FloatVector.fromMemorySegment(F, xs, 4 * i, LE);
                FloatVector inner = v.mul(v).mul(0.044715f).add(1f).mul(v).mul(SQRT_2_OVER_PI);
                FloatVector t = VectorMath.tanh(inner).add(1f);
                v.mul(half).mul(t).intoMemorySegment(xs, 4 * i, LE);
            }
            for (; i < to; i++) {
                float v = xs.get(F32, 4 * i);
                float t = VectorMath.tanh((v * v * 0.044715f + 1f) * v * SQRT_2_OVER_PI);
                xs.set(F32, 4 * i, 0.5f * v * (1f + t));
            }
        });
    }

    void silu(Tensor x) {
        Checks.f32("silu", "x", x);
        MemorySegment xs = x.data();
        flat(parallel.usableFor(x), x.numel(), (from, to) -> {
            long i = from;
            for (; i <= to - L; i += L) {
                FloatVector v = FloatVector.fromMemorySegment(F, xs, 4 * i, LE);
                FloatVector e = VectorMath.exp(v.neg()).add(1f);
                v.div(e).intoMemorySegment(xs, 4 * i, LE);
            }
            for (; i < to; i++) {
                float v = xs.get(F32, 4 * i);
                xs.set(F32, 4 * i, v / (VectorMath.exp(-v) + 1f));
            }
        });
    }

    /** out = a * ca + b * cb elementwise (flowToX0: ca = 1, cb = -sigma; addNoise: 1 - sigma, sigma). */
    void axpby(String op, Tensor a, float ca, Tensor b, float cb, Tensor out) {
        Checks.f32(op, "first input", a);
        Checks.f32(op, "second input", b);
        Checks.f32(op, "out", out);
        if (a.numel() != b.numel() || a.numel() != out.numel()) {
            throw Checks.fail(op, "inputs " + a + ", " + b + " and out " + out + " differ in element count");
        }
        MemorySegment as = a.data(), bs = b.data(), os = out.data();
        flat(parallel.usableFor(a, b, out), a.numel(), (from, to) -> {
            long i = from;
            for (; i <= to - L; i += L) {
                FloatVector va = FloatVector.fromMemorySegment(F, as, 4 * i, LE);
                FloatVector vb = FloatVector.fromMemorySegment(F, bs, 4 * i, LE);
                vb.mul(cb).add(va.mul(ca)).intoMemorySegment(os, 4 * i, LE);
            }
            for (; i < to; i++) {
                os.set(F32, 4 * i, as.get(F32, 4 * i) * ca + bs.get(F32, 4 * i) * cb);
            }
        });
    }

    /**
     * The fused sampler step: x0 = xt - sigma·v, next = (1 - nextSigma)·x0 + nextSigma·noise, in one pass. Each
     * value is rounded exactly as axpby rounds it (flowToX0, then addNoise on the rounded x0), so the fused step
     * gives the same bits as the two ops. All inputs are read before either output is written, so next may
     * alias xt (and any output may alias any input exactly).
     */
    void flowStep(Tensor xt, Tensor v, Tensor noise, float sigma, float nextSigma, Tensor x0, Tensor next) {
        String op = "flowStep";
        Checks.f32(op, "xt", xt);
        Checks.f32(op, "v", v);
        Checks.f32(op, "noise", noise);
        Checks.f32(op, "x0", x0);
        Checks.f32(op, "next", next);
        long n = xt.numel();
        if (v.numel() != n || noise.numel() != n || x0.numel() != n || next.numel() != n) {
            throw Checks.fail(op, "xt " + xt + ", v " + v + ", noise " + noise + ", x0 " + x0 + " and next " + next
                    + " differ in element count");
        }
        float negSigma = -sigma, keep = 1f - nextSigma;
        MemorySegment xs = xt.data(), vs = v.data(), ns = noise.data(), cs = x0.data(), os = next.data();
        flat(parallel.usableFor(xt, v, noise, x0, next), n, (from, to) -> {
            long i = from;
            for (; i <= to - L; i += L) {
                FloatVector a = FloatVector.fromMemorySegment(F, xs, 4 * i, LE);
                FloatVector b = FloatVector.fromMemorySegment(F, vs, 4 * i, LE);
                FloatVector z = FloatVector.fromMemorySegment(F, ns, 4 * i, LE);
                FloatVector clean = b.mul(negSigma).add(a.mul(1f));
                clean.intoMemorySegment(cs, 4 * i, LE);
                z.mul(nextSigma).add(clean.mul(keep)).intoMemorySegment(os, 4 * i, LE);
            }
            for (; i < to; i++) {
                float z = ns.get(F32, 4 * i);
                float clean = xs.get(F32, 4 * i) * 1f + vs.get(F32, 4 * i) * negSigma;
                cs.set(F32, 4 * i, clean);
                os.set(F32, 4 * i, clean * keep + z * nextSigma);
            }
        });
    }

    /** A per-frame table [frames, cols] (F32) covering every row's frame r / rowsPerFrame. */
    private static void perFrame(String op, String name, Tensor t, int cols, long rows, int rowsPerFrame) {
        Checks.f32(op, name, t);
        if (rowsPerFrame <= 0) {
            throw Checks.fail(op, "rowsPerFrame must be positive, got " + rowsPerFrame);
        }
        if (t.dim(-1) != cols) {
            throw Checks.fail(op, name + " " + t + " must have " + cols + " columns");
        }
        long frames = Checks.rows(t);
        long needed = rows == 0 ? 0 : (rows - 1) / rowsPerFrame + 1;
        if (frames < needed) {
            throw Checks.fail(op, name + " " + t + " has " + frames + " frames but " + rows + " rows at "
                    + rowsPerFrame + " rows per frame need " + needed);
        }
    }
}
