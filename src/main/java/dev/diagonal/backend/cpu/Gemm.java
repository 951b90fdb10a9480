package dev.diagonal.backend.cpu;

import dev.diagonal.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * out[n,m] = x[n,k] · w[m,k]ᵀ + bias, the engine's hot loop.
 *
 * <p>Blocking (BLIS style): w is packed once per call into f32 column panels of NR = 2 vectors, laid out
 * [panel][k][NR], so the micro-kernel's inner step is two aligned vector loads and MR broadcast-FMAs, with
 * BF16/F16 widened during packing (never in the inner loop). x is packed per (row block, K block) into
 * [MR-row micro-panel][kc][MR] so its broadcasts read sequentially. The MR x NR accumulators (8 x 32 = 16
 * zmm registers) stay in registers across a K block of KC; an A block (up to MC x KC, 192 KiB) stays in L2
 * while B micro-panels (KC x NR, 32 KiB) stream through L1 from the packed weight. Work is split over
 * row blocks (and column groups when there are few rows), so each thread writes disjoint output tiles.
 *
 * <p>Not thread-safe per instance (it reuses one packing buffer): calls are serialized.
 */
final class Gemm {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();
    /** Micro-tile columns: two vectors. */
    static final int NR = 2 * L;
    /** Micro-tile rows: 8 rows x 2 vectors = 16 accumulators, half the AVX-512 register file. */
    static final int MR = 8;
    /** K block: one B micro-panel (KC x NR floats) fits L1. */
    private static final int KC = 256;
    /**
     * Largest row block: the packed A block (MC x KC floats) sits in L2 next to the streaming B panels.
     * Measured on the DiT shapes (2 threads, AVX-512): 192 beat 96 by ~5%, 288 was no better.
     */
    private static final int MC = 192;
    /** Below this many multiply-adds, threading costs more than it saves. */
    private static final long INLINE_MACS = 1L << 21;
    private static final int PACK_P = 64;
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private final Parallel parallel;
    private float[] packedW = new float[0];

    Gemm(Parallel parallel) {
        this.parallel = parallel;
    }

    synchronized void linear(Tensor x, Tensor w, Tensor bias, Tensor out) {
        final String op = "linear";
        Checks.f32(op, "x", x);
        Checks.computeFloat(op, "w", w);
        Checks.f32(op, "out", out);
        if (w.rank() != 2) {
            throw Checks.fail(op, "w must be [m, k], got " + w);
        }
        int k = Checks.cols(op, "x", x);
        int m = Checks.toInt(op, "m", w.dim(0));
        if (w.dim(1) != k) {
            throw Checks.fail(op, "x " + x + " has k = " + k + " but w " + w + " has k = " + w.dim(1));
        }
        if (out.dim(-1) != m || Checks.rows(out) != Checks.rows(x) && m != 0) {
            throw Checks.fail(op, "out " + out + " must be [" + Checks.rows(x) + ", " + m + "] for x " + x + " and w " + w);
        }
        if (bias != null) {
            Checks.vectorOf(op, "bias", bias, m);
        }
        int n = Checks.toInt(op, "rows of x", Checks.rows(x));
        if (n == 0 || m == 0) {
            return;
        }
        int panels = (m + NR - 1) / NR;
        float[] biasPad = new float[panels * NR];
        if (bias != null) {
            Widen.run(bias, 0, biasPad, 0, m);
        }
        if (k == 0) {
            fillBias(out.data(), n, m, biasPad);
            return;
        }
        long packedSize = (long) panels * k * NR;
        if (packedSize > Integer.MAX_VALUE - 64) {
            throw Checks.fail(op, "w " + w + " is too large to pack");
        }
        if (packedW.length < packedSize) {
            packedW = new float[(int) packedSize];
        }
        float[] pb = packedW;
        boolean inline = (long) n * m * k < INLINE_MACS;
        Parallel par = parallel.usableFor(x, w, out);
        par.forRange(panels, inline ? panels : par.grain(panels, 1),
                (p0, p1) -> packW(w, k, m, pb, p0, p1));

        // Row blocks: the fewest of at most MC rows, rounded up to a multiple of the thread count, with the
        // MR-row micro-rows split evenly among them so no thread is left with a short last block.
        int microRows = (n + MR - 1) / MR;
        int rowBlocks = (n + MC - 1) / MC;
        if (!inline && rowBlocks > 1) {
            rowBlocks = Math.min(microRows, (rowBlocks + par.threads() - 1) / par.threads() * par.threads());
        }
        int blocks = rowBlocks;
        // Few rows: also split columns so every thread has work (A is then packed once per group).
        int groups = inline ? 1 : Math.min(panels, Math.max(1, (4 * par.threads() + rowBlocks - 1) / rowBlocks));
        int tasks = rowBlocks * groups;
        int panelsPerGroup = (panels + groups - 1) / groups;
        MemorySegment o = out.data();
        MemorySegment xs = x.data();
        // Scratch sized to the problem, not the block limits: small calls stay cheap to allocate.
        int paSize = (microRows + rowBlocks - 1) / rowBlocks * MR * Math.min(KC, k);
        par.forRange(tasks, inline ? tasks : 1, (t0, t1) -> {
            float[] pa = new float[paSize];
            float[] acc = new float[MR * NR];
            for (int t = t0; t < t1; t++) {
                int b = t / groups;
                int r0 = (int) ((long) b * microRows / blocks) * MR;
                int mc = Math.min(n, (int) ((long) (b + 1) * microRows / blocks) * MR) - r0;
                int g = t % groups;
                int pFrom = g * panelsPerGroup;
                int pTo = Math.min(panels, pFrom + panelsPerGroup);
                for (int k0 = 0; k0 < k; k0 += KC) {
                    int kc = Math.min(KC, k - k0);
                    packA(xs, k, r0, mc, k0, kc, pa);
                    boolean first = k0 == 0;
                    for (int panel = pFrom; panel < pTo; panel++) {
                        int bOff = (panel * k + k0) * NR;
                        int c0 = panel * NR;
                        int vc = Math.min(NR, m - c0);
                        for (int i = 0; i * MR < mc; i++) {
                            kernel(pa, i * kc * MR, pb, bOff, kc, acc);
                            int row = r0 + i * MR;
                            store(o, m, row, Math.min(MR, n - row), c0, vc, acc, biasPad, first);
                        }
                    }
                }
            }
        });
    }

    /** Panels [p0, p1) of w, widened to f32, into [panel][k][NR] with zero columns past m. */
    private static void packW(Tensor w, int k, int m, float[] pb, int p0, int p1) {
        float[] tmp = new float[NR * PACK_P];
        for (int panel = p0; panel < p1; panel++) {
            int base = panel * k * NR;
            int c0 = panel * NR;
            int vc = Math.min(NR, m - c0);
            for (int q0 = 0; q0 < k; q0 += PACK_P) {
                int len = Math.min(PACK_P, k - q0);
                // Widen NR row pieces (contiguous in w), then write them transposed, contiguously in pb.
                for (int j = 0; j < vc; j++) {
                    Widen.run(w, (long) (c0 + j) * k + q0, tmp, j * PACK_P, len);
                }
                for (int q = 0; q < len; q++) {
                    int dst = base + (q0 + q) * NR;
                    for (int j = 0; j < vc; j++) {
                        pb[dst + j] = tmp[j * PACK_P + q];
                    }
                    for (int j = vc; j < NR; j++) {
                        pb[dst + j] = 0f;
                    }
                }
            }
        }
    }

    /** Rows [r0, r0+mc) x cols [k0, k0+kc) of x into MR-row micro-panels [kc][MR], zero rows past mc. */
    private static void packA(MemorySegment x, int k, int r0, int mc, int k0, int kc, float[] pa) {
        for (int i = 0; i * MR < mc; i++) {
            int base = i * kc * MR;
            for (int r = 0; r < MR; r++) {
                int row = i * MR + r;
                if (row < mc) {
                    long src = ((long) (r0 + row) * k + k0) * 4;
                    for (int p = 0; p < kc; p++) {
                        pa[base + p * MR + r] = x.get(F32, src + 4L * p);
                    }
                } else {
                    for (int p = 0; p < kc; p++) {
                        pa[base + p * MR + r] = 0f;
                    }
                }
            }
        }
    }

    /** acc[MR][NR] = A micro-panel · B micro-panel over kc steps; all 16 accumulators live in registers. */
    private static void kernel(float[] a, int aOff, float[] b, int bOff, int kc, float[] acc) {
        FloatVector c00 = FloatVector.zero(F), c01 = FloatVector.zero(F);
        FloatVector c10 = FloatVector.zero(F), c11 = FloatVector.zero(F);
        FloatVector c20 = FloatVector.zero(F), c21 = FloatVector.zero(F);
        FloatVector c30 = FloatVector.zero(F), c31 = FloatVector.zero(F);
        FloatVector c40 = FloatVector.zero(F), c41 = FloatVector.zero(F);
        FloatVector c50 = FloatVector.zero(F), c51 = FloatVector.zero(F);
        FloatVector c60 = FloatVector.zero(F), c61 = FloatVector.zero(F);
        FloatVector c70 = FloatVector.zero(F), c71 = FloatVector.zero(F);
        int ai = aOff;
        int bi = bOff;
        for (int p = 0; p < kc; p++, ai += MR, bi += NR) {
            FloatVector b0 = FloatVector.fromArray(F, b, bi);
            FloatVector b1 = FloatVector.fromArray(F, b, bi + L);
            FloatVector av = FloatVector.broadcast(F, a[ai]);
            c00 = av.fma(b0, c00);
            c01 = av.fma(b1, c01);
            av = FloatVector.broadcast(F, a[ai + 1]);
            c10 = av.fma(b0, c10);
            c11 = av.fma(b1, c11);
            av = FloatVector.broadcast(F, a[ai + 2]);
            c20 = av.fma(b0, c20);
            c21 = av.fma(b1, c21);
            av = FloatVector.broadcast(F, a[ai + 3]);
            c30 = av.fma(b0, c30);
            c31 = av.fma(b1, c31);
            av = FloatVector.broadcast(F, a[ai + 4]);
            c40 = av.fma(b0, c40);
            c41 = av.fma(b1, c41);
            av = FloatVector.broadcast(F, a[ai + 5]);
            c50 = av.fma(b0, c50);
            c51 = av.fma(b1, c51);
            av = FloatVector.broadcast(F, a[ai + 6]);
            c60 = av.fma(b0, c60);
            c61 = av.fma(b1, c61);
            av = FloatVector.broadcast(F, a[ai + 7]);
            c70 = av.fma(b0, c70);
            c71 = av.fma(b1, c71);
        }
        c00.intoArray(acc, 0);
        c01.intoArray(acc, L);
        c10.intoArray(acc, NR);
        c11.intoArray(acc, NR + L);
        c20.intoArray(acc, 2 * NR);
        c21.intoArray(acc, 2 * NR + L);
        c30.intoArray(acc, 3 * NR);
        c31.intoArray(acc, 3 * NR + L);
        c40.intoArray(acc, 4 * NR);
        c41.intoArray(acc, 4 * NR + L);
        c50.intoArray(acc, 5 * NR);
        c51.intoArray(acc, 5 * NR + L);
        c60.intoArray(acc, 6 * NR);
        c61.intoArray(acc, 6 * NR + L);
        c70.intoArray(acc, 7 * NR);
        c71.intoArray(acc, 7 * NR + L);
    }

    /** Writes (first K block: acc + bias) or adds (later K blocks) a vr x vc tile at (row, c0). */
    private static void store(MemorySegment o, int m, int row, int vr, int c0, int vc, float[] acc,
                              float[] bias, boolean first) {
        if (vc == NR) {
            FloatVector bias0 = FloatVector.fromArray(F, bias, c0);
            FloatVector bias1 = FloatVector.fromArray(F, bias, c0 + L);
            for (int r = 0; r < vr; r++) {
                long off = ((long) (row + r) * m + c0) * 4;
                FloatVector v0 = FloatVector.fromArray(F, acc, r * NR);
                FloatVector v1 = FloatVector.fromArray(F, acc, r * NR + L);
                if (first) {
                    v0 = v0.add(bias0);
                    v1 = v1.add(bias1);
                } else {
                    v0 = v0.add(FloatVector.fromMemorySegment(F, o, off, LE));
                    v1 = v1.add(FloatVector.fromMemorySegment(F, o, off + 4L * L, LE));
                }
                v0.intoMemorySegment(o, off, LE);
                v1.intoMemorySegment(o, off + 4L * L, LE);
            }
            return;
        }
        for (int r = 0; r < vr; r++) {
            long off = ((long) (row + r) * m + c0) * 4;
            for (int c = 0; c < vc; c++) {
                float v = acc[r * NR + c];
                long at = off + 4L * c;
                o.set(F32, at, first ? v + bias[c0 + c] : v + o.get(F32, at));
            }
        }
    }

    private static void fillBias(MemorySegment o, int n, int m, float[] bias) {
        for (int r = 0; r < n; r++) {
            MemorySegment.copy(bias, 0, o, F32, (long) r * m * 4, m);
        }
    }
}
