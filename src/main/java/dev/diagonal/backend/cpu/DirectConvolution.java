package dev.diagonal.backend.cpu;

import dev.diagonal.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * 3D convolution without im2col, for layers with few output channels (a small VAE's 16-64, or its 3-channel
 * head). There im2col + GEMM is dominated by moving the unfolded patches (K = 27·Cin floats per pixel, copied
 * twice) and by GEMM panels of 32 columns half empty, so it ran at a few percent of the FMA peak.
 *
 * <p>Here the input is copied once into a spatially zero-padded float array, the weight into [tap][Cin][Cout
 * rounded up to a vector], and each tap is a shifted multiply-add: for a run of 8 output pixels in one row
 * and one or two vectors of output channels, the accumulators stay in registers over all taps and input
 * channels, so every weight vector loaded serves 8 FMAs.
 *
 * <p>Not thread-safe per instance (the padded input and packed weight are reused): calls are serialized.
 */
final class DirectConvolution {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();
    /** Output pixels per micro-tile: with two vectors of channels, 16 accumulators. */
    private static final int MR = 8;
    /** Above this many output channels im2col + GEMM is used (its panels are full there). */
    static final int MAX_COUT = 64;
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private final Parallel parallel;
    private float[] padded = new float[0];
    private float[] packed = new float[0];

    DirectConvolution(Parallel parallel) {
        this.parallel = parallel;
    }

    /** Whether this path suits a layer: a spatial kernel, few output channels, a padded input an array holds. */
    static boolean suits(int cout, int kh, int kw, int tin, int h, int w, int cin) {
        long padded = (long) tin * (h + kh - 1) * (w + kw - 1) * cin;
        return cout <= MAX_COUT && kh * kw > 1 && padded < Integer.MAX_VALUE - 64;
    }

    /** Shapes already checked by the caller: x [Tin, H, W, Cin], w [Cout, kt, kh, kw, Cin], out [Tout, H, W, Cout]. */
    void conv3d(Tensor x, Tensor w, Tensor bias, Tensor out) {
        int tin = (int) x.dim(0), h = (int) x.dim(1), wd = (int) x.dim(2), cin = (int) x.dim(3);
        int cout = (int) w.dim(0), kt = (int) w.dim(1), kh = (int) w.dim(2), kw = (int) w.dim(3);
        int tout = tin - kt + 1;
        int hp = h + kh - 1, wp = wd + kw - 1;
        int coutPad = (cout + L - 1) / L * L;
        Geometry g = new Geometry(h, wd, cin, cout, coutPad, kt, kh, kw, hp, wp);
        float[] xp = pad(x, g, tin);
        float[] wt = pack(w, g);
        float[] b = new float[coutPad];
        if (bias != null) {
            Widen.run(bias, 0, b, 0, cout);
        }
        MemorySegment o = out.data();
        int rows = tout * h;
        Parallel par = parallel.usableFor(x, w, out);
        par.forRange(rows, par.grain(rows, 1), (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                row(xp, wt, b, o, g, r / h, r % h);
            }
        });
    }

    private record Geometry(int h, int w, int cin, int cout, int coutPad, int kt, int kh, int kw, int hp, int wp) {
    }

    /** x into [Tin][H + kh - 1][W + kw - 1][Cin] with zero borders. */
    private float[] pad(Tensor x, Geometry g, int tin) {
        int size = tin * g.hp * g.wp * g.cin;
        if (padded.length < size) {
            padded = new float[size];
        } else {
            Arrays.fill(padded, 0, size, 0f);
        }
        float[] xp = padded;
        MemorySegment src = x.data();
        int ph = g.kh / 2, pw = g.kw / 2;
        long rowBytes = 4L * g.w * g.cin;
        for (int t = 0; t < tin; t++) {
            for (int y = 0; y < g.h; y++) {
                int dst = ((t * g.hp + y + ph) * g.wp + pw) * g.cin;
                MemorySegment.copy(src, F32, ((long) t * g.h + y) * rowBytes, xp, dst, g.w * g.cin);
            }
        }
        return xp;
    }

    /** w [Cout][taps][Cin] widened into [taps][Cin][coutPad], zero past Cout. */
    private float[] pack(Tensor w, Geometry g) {
        int taps = g.kt * g.kh * g.kw;
        int size = taps * g.cin * g.coutPad;
        if (packed.length < size) {
            packed = new float[size];
        }
        float[] wt = packed;
        Arrays.fill(wt, 0, size, 0f);
        float[] run = new float[taps * g.cin];
        for (int co = 0; co < g.cout; co++) {
            Widen.run(w, (long) co * run.length, run, 0, run.length);
            for (int i = 0; i < run.length; i++) {
                wt[i * g.coutPad + co] = run[i];
            }
        }
        return wt;
    }

    /** Output row y of output frame t, all channels. */
    private static void row(float[] xp, float[] wt, float[] b, MemorySegment o, Geometry g, int t, int y) {
        long outRow = ((long) t * g.h + y) * g.w;
        for (int c0 = 0; c0 < g.coutPad; ) {
            boolean two = c0 + 2 * L <= g.coutPad;
            int x0 = 0;
            for (; x0 + MR <= g.w; x0 += MR) {
                if (two) {
                    tile8x2(xp, wt, b, o, g, t, y, x0, c0, outRow);
                } else {
                    tile8x1(xp, wt, b, o, g, t, y, x0, c0, outRow);
                }
            }
            for (; x0 < g.w; x0++) {
                pixel(xp, wt, b, o, g, t, y, x0, c0, two ? 2 : 1, outRow);
            }
            c0 += two ? 2 * L : L;
        }
    }

    /** Offset in xp of input pixel (t + dt, y + dy, x + dx) of the padded frame. */
    private static int at(Geometry g, int t, int y, int x) {
        return ((t * g.hp + y) * g.wp + x) * g.cin;
    }

    private static void tile8x2(float[] xp, float[] wt, float[] b, MemorySegment o, Geometry g, int t, int y,
                                int x0, int c0, long outRow) {
        FloatVector a00 = FloatVector.zero(F), a01 = FloatVector.zero(F);
        FloatVector a10 = FloatVector.zero(F), a11 = FloatVector.zero(F);
        FloatVector a20 = FloatVector.zero(F), a21 = FloatVector.zero(F);
        FloatVector a30 = FloatVector.zero(F), a31 = FloatVector.zero(F);
        FloatVector a40 = FloatVector.zero(F), a41 = FloatVector.zero(F);
        FloatVector a50 = FloatVector.zero(F), a51 = FloatVector.zero(F);
        FloatVector a60 = FloatVector.zero(F), a61 = FloatVector.zero(F);
        FloatVector a70 = FloatVector.zero(F), a71 = FloatVector.zero(F);
        int cin = g.cin, stride = g.coutPad;
        int tap = 0;
        for (int dt = 0; dt < g.kt; dt++) {
            for (int dy = 0; dy < g.kh; dy++) {
                for (int dx = 0; dx < g.kw; dx++, tap++) {
                    int xi = at(g, t + dt, y + dy, x0 + dx);
                    int wi = tap * cin * stride + c0;
                    for (int ci = 0; ci < cin; ci++, xi++, wi += stride) {
                        FloatVector w0 = FloatVector.fromArray(F, wt, wi);
                        FloatVector w1 = FloatVector.fromArray(F, wt, wi + L);
                        FloatVector v = FloatVector.broadcast(F, xp[xi]);
                        a00 = v.fma(w0, a00);
                        a01 = v.fma(w1, a01);
                        v = FloatVector.broadcast(F, xp[xi + cin]);
                        a10 = v.fma(w0, a10);
                        a11 = v.fma(w1, a11);
                        v = FloatVector.broadcast(F, xp[xi + 2 * cin]);
                        a20 = v.fma(w0, a20);
                        a21 = v.fma(w1, a21);
                        v = FloatVector.broadcast(F, xp[xi + 3 * cin]);
                        a30 = v.fma(w0, a30);
                        a31 = v.fma(w1, a31);
                        v = FloatVector.broadcast(F, xp[xi + 4 * cin]);
                        a40 = v.fma(w0, a40);
                        a41 = v.fma(w1, a41);
                        v = FloatVector.broadcast(F, xp[xi + 5 * cin]);
                        a50 = v.fma(w0, a50);
                        a51 = v.fma(w1, a51);
                        v = FloatVector.broadcast(F, xp[xi + 6 * cin]);
                        a60 = v.fma(w0, a60);
                        a61 = v.fma(w1, a61);
                        v = FloatVector.broadcast(F, xp[xi + 7 * cin]);
                        a70 = v.fma(w0, a70);
                        a71 = v.fma(w1, a71);
                    }
                }
            }
        }
        FloatVector b0 = FloatVector.fromArray(F, b, c0), b1 = FloatVector.fromArray(F, b, c0 + L);
        long p = outRow + x0;
        storePair(o, g, p, c0, a00.add(b0), a01.add(b1));
        storePair(o, g, p + 1, c0, a10.add(b0), a11.add(b1));
        storePair(o, g, p + 2, c0, a20.add(b0), a21.add(b1));
        storePair(o, g, p + 3, c0, a30.add(b0), a31.add(b1));
        storePair(o, g, p + 4, c0, a40.add(b0), a41.add(b1));
        storePair(o, g, p + 5, c0, a50.add(b0), a51.add(b1));
        storePair(o, g, p + 6, c0, a60.add(b0), a61.add(b1));
        storePair(o, g, p + 7, c0, a70.add(b0), a71.add(b1));
    }

    private static void tile8x1(float[] xp, float[] wt, float[] b, MemorySegment o, Geometry g, int t, int y,
                                int x0, int c0, long outRow) {
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F);
        FloatVector a3 = FloatVector.zero(F), a4 = FloatVector.zero(F), a5 = FloatVector.zero(F);
        FloatVector a6 = FloatVector.zero(F), a7 = FloatVector.zero(F);
        int cin = g.cin, stride = g.coutPad;
        int tap = 0;
        for (int dt = 0; dt < g.kt; dt++) {
            for (int dy = 0; dy < g.kh; dy++) {
                for (int dx = 0; dx < g.kw; dx++, tap++) {
                    int xi = at(g, t + dt, y + dy, x0 + dx);
                    int wi = tap * cin * stride + c0;
                    for (int ci = 0; ci < cin; ci++, xi++, wi += stride) {
                        FloatVector w0 = FloatVector.fromArray(F, wt, wi);
                        a0 = FloatVector.broadcast(F, xp[xi]).fma(w0, a0);
                        a1 = FloatVector.broadcast(F, xp[xi + cin]).fma(w0, a1);
                        a2 = FloatVector.broadcast(F, xp[xi + 2 * cin]).fma(w0, a2);
                        a3 = FloatVector.broadcast(F, xp[xi + 3 * cin]).fma(w0, a3);
                        a4 = FloatVector.broadcast(F, xp[xi + 4 * cin]).fma(w0, a4);
                        a5 = FloatVector.broadcast(F, xp[xi + 5 * cin]).fma(w0, a5);
                        a6 = FloatVector.broadcast(F, xp[xi + 6 * cin]).fma(w0, a6);
                        a7 = FloatVector.broadcast(F, xp[xi + 7 * cin]).fma(w0, a7);
                    }
                }
            }
        }
        FloatVector b0 = FloatVector.fromArray(F, b, c0);
        long p = outRow + x0;
        store(o, g, p, c0, a0.add(b0));
        store(o, g, p + 1, c0, a1.add(b0));
        store(o, g, p + 2, c0, a2.add(b0));
        store(o, g, p + 3, c0, a3.add(b0));
        store(o, g, p + 4, c0, a4.add(b0));
        store(o, g, p + 5, c0, a5.add(b0));
        store(o, g, p + 6, c0, a6.add(b0));
        store(o, g, p + 7, c0, a7.add(b0));
    }

    /** One output pixel, `vectors` vectors of channels from c0: the row tails narrower than MR. */
    private static void pixel(float[] xp, float[] wt, float[] b, MemorySegment o, Geometry g, int t, int y,
                              int x, int c0, int vectors, long outRow) {
        for (int v = 0; v < vectors; v++) {
            int c = c0 + v * L;
            FloatVector acc = FloatVector.fromArray(F, b, c);
            int tap = 0;
            for (int dt = 0; dt < g.kt; dt++) {
                for (int dy = 0; dy < g.kh; dy++) {
                    for (int dx = 0; dx < g.kw; dx++, tap++) {
                        int xi = at(g, t + dt, y + dy, x + dx);
                        int wi = tap * g.cin * g.coutPad + c;
                        for (int ci = 0; ci < g.cin; ci++, wi += g.coutPad) {
                            acc = FloatVector.broadcast(F, xp[xi + ci]).fma(FloatVector.fromArray(F, wt, wi), acc);
                        }
                    }
                }
            }
            store(o, g, outRow + x, c, acc);
        }
    }

    private static void storePair(MemorySegment o, Geometry g, long p, int c, FloatVector lo, FloatVector hi) {
        store(o, g, p, c, lo);
        store(o, g, p, c + L, hi);
    }

    /** Channels [c, c + L) of output pixel p, masked where the vector runs past Cout. */
    private static void store(MemorySegment o, Geometry g, long p, int c, FloatVector v) {
        long off = (p * g.cout + c) * 4;
        if (c + L <= g.cout) {
            v.intoMemorySegment(o, off, LE);
        } else {
            VectorMask<Float> m = F.indexInRange(c, g.cout);
            v.intoMemorySegment(o, off, LE, m);
        }
    }
}
