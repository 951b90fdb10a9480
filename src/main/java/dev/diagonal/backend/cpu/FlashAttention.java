package dev.diagonal.backend.cpu;

import dev.diagonal.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Chunk-causal scaled dot-product attention, flash style: per (head, block of BQ queries) the keys are
 * visited in tiles of BK with an online softmax (running max m, running sum l, and the output rescaled by
 * exp(m_old - m_new) whenever the max grows), so memory is O(BQ·(BK + headDim)) whatever nk is.
 *
 * <p>Each key tile is packed transposed (Kᵀ: [headDim][BK]) so scores come from broadcast-q x key-vector
 * FMAs, 4 query rows x 4 vectors of keys at a time; V is packed [BK][headDim padded to a vector] and P·V
 * is a broadcast-p x V-row FMA. The 1/sqrt(headDim) scale is folded into the packed queries.
 */
final class FlashAttention {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();
    private static final int BQ = 64;
    private static final int BK = 4 * L;
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;

    private final Parallel parallel;

    FlashAttention(Parallel parallel) {
        this.parallel = parallel;
    }

    void attention(Tensor q, Tensor k, Tensor v, Tensor out, int heads, long queryOffset, long chunkTokens) {
        String op = "attention";
        Checks.f32(op, "q", q);
        Checks.f32(op, "k", k);
        Checks.f32(op, "v", v);
        Checks.f32(op, "out", out);
        if (q.rank() != 2 || k.rank() != 2 || v.rank() != 2 || out.rank() != 2) {
            throw Checks.fail(op, "q " + q + ", k " + k + ", v " + v + ", out " + out + " must all be rank 2");
        }
        int dim = Checks.toInt(op, "q width", q.dim(1));
        if (heads <= 0 || dim % heads != 0 || dim == 0) {
            throw Checks.fail(op, "q " + q + " does not split into " + heads + " heads");
        }
        if (k.dim(1) != dim || v.dim(1) != dim || out.dim(1) != dim) {
            throw Checks.fail(op, "q " + q + ", k " + k + ", v " + v + ", out " + out + " must share width " + dim);
        }
        if (v.dim(0) != k.dim(0) || out.dim(0) != q.dim(0)) {
            throw Checks.fail(op, "k " + k + " and v " + v + " must share rows, q " + q + " and out " + out + " too");
        }
        if (queryOffset < 0 || chunkTokens < 0) {
            throw Checks.fail(op, "queryOffset " + queryOffset + " and chunkTokens " + chunkTokens + " must be >= 0");
        }
        int nq = Checks.toInt(op, "nq", q.dim(0));
        int nk = Checks.toInt(op, "nk", k.dim(0));
        if (nq == 0) {
            return;
        }
        if (nk == 0) {
            throw Checks.fail(op, "no keys (k " + k + ") for " + nq + " queries: softmax over nothing");
        }
        int headDim = dim / heads;
        int dp = (headDim + L - 1) / L * L;
        float scale = (float) (1.0 / Math.sqrt(headDim));
        int qBlocks = (nq + BQ - 1) / BQ;
        int tasks = heads * qBlocks;
        long work = (long) nq * nk * dim;
        MemorySegment qs = q.data(), ks = k.data(), vs = v.data(), os = out.data();
        Parallel par = parallel.usableFor(q, k, v, out);
        par.forRange(tasks, work < (1 << 18) ? tasks : 1, (t0, t1) -> {
            Scratch s = new Scratch(headDim, dp);
            for (int t = t0; t < t1; t++) {
                int h = t / qBlocks;
                int i0 = (t % qBlocks) * BQ;
                int bq = Math.min(BQ, nq - i0);
                block(s, qs, ks, vs, os, dim, headDim, h * headDim, i0, bq, nk, queryOffset, chunkTokens, scale);
            }
        });
    }

    /** Per-thread working memory, reused across the thread's tasks. */
    private static final class Scratch {
        final float[] q;
        final float[] o;
        final float[] kt;
        final float[] v;
        final float[] s = new float[BQ * BK];
        final float[] m = new float[BQ];
        final float[] l = new float[BQ];
        final float[] corr = new float[BQ];
        final int[] valid = new int[BQ];
        final float[] row;

        Scratch(int headDim, int dp) {
            q = new float[BQ * dp];
            o = new float[BQ * dp];
            kt = new float[headDim * BK];
            v = new float[BK * dp];
            row = new float[headDim];
        }
    }

    /** Keys visible to the query at absolute position pos: min(nk, (⌊pos/chunk⌋ + 1)·chunk), or nk unmasked. */
    static long visible(long pos, long nk, long chunkTokens) {
        if (chunkTokens == 0) {
            return nk;
        }
        long chunk = pos / chunkTokens;
        // Past nk's own chunk the limit is nk anyway; testing first keeps (chunk + 1) * chunkTokens from overflowing.
        return chunk >= nk / chunkTokens ? nk : Math.min(nk, (chunk + 1) * chunkTokens);
    }

    private static void block(Scratch s, MemorySegment qs, MemorySegment ks, MemorySegment vs, MemorySegment os,
                              int dim, int headDim, int col, int i0, int bq, int nk, long queryOffset,
                              long chunkTokens, float scale) {
        int dp = s.q.length / BQ;
        java.util.Arrays.fill(s.q, 0f);
        java.util.Arrays.fill(s.o, 0f);
        java.util.Arrays.fill(s.m, Float.NEGATIVE_INFINITY);
        java.util.Arrays.fill(s.l, 0f);
        for (int i = 0; i < bq; i++) {
            long src = ((long) (i0 + i) * dim + col) * 4;
            MemorySegment.copy(qs, F32, src, s.q, i * dp, headDim);
            for (int d = 0; d < headDim; d++) {
                s.q[i * dp + d] *= scale;
            }
        }
        // Visibility only grows with the query index, so the last row bounds the keys this block reads.
        int keyEnd = (int) visible(queryOffset + i0 + bq - 1, nk, chunkTokens);
        for (int j0 = 0; j0 < keyEnd; j0 += BK) {
            int bk = Math.min(BK, keyEnd - j0);
            packKeys(s, ks, vs, dim, headDim, dp, col, j0, bk);
            scores(s, headDim, dp, bq);
            softmaxUpdate(s, bq, bk, i0, j0, nk, queryOffset, chunkTokens);
            accumulate(s, dp, bq);
        }
        for (int i = 0; i < bq; i++) {
            float inv = 1f / s.l[i];
            long dst = ((long) (i0 + i) * dim + col) * 4;
            for (int d = 0; d < headDim; d++) {
                s.row[d] = s.o[i * dp + d] * inv;
            }
            MemorySegment.copy(s.row, 0, os, F32, dst, headDim);
        }
    }

    /** Kᵀ tile [headDim][BK] (zero past bk) and V tile [bk][dp]. */
    private static void packKeys(Scratch s, MemorySegment ks, MemorySegment vs, int dim, int headDim, int dp,
                                 int col, int j0, int bk) {
        if (bk < BK) {
            java.util.Arrays.fill(s.kt, 0f);
        }
        for (int j = 0; j < bk; j++) {
            long src = ((long) (j0 + j) * dim + col) * 4;
            MemorySegment.copy(ks, F32, src, s.row, 0, headDim);
            for (int d = 0; d < headDim; d++) {
                s.kt[d * BK + j] = s.row[d];
            }
            MemorySegment.copy(vs, F32, src, s.v, j * dp, headDim);
            // v's padding lanes [headDim, dp) were zeroed at allocation and are never written.
        }
    }

    /** S[i][0..BK) = q_i · Kᵀ for the block's rows, 4 rows x 4 key vectors per register tile. */
    private static void scores(Scratch s, int headDim, int dp, int bq) {
        float[] q = s.q, kt = s.kt, out = s.s;
        int i = 0;
        for (; i + 4 <= bq; i += 4) {
            FloatVector a00 = FloatVector.zero(F), a01 = a00, a02 = a00, a03 = a00;
            FloatVector a10 = a00, a11 = a00, a12 = a00, a13 = a00;
            FloatVector a20 = a00, a21 = a00, a22 = a00, a23 = a00;
            FloatVector a30 = a00, a31 = a00, a32 = a00, a33 = a00;
            int r0 = i * dp, r1 = r0 + dp, r2 = r1 + dp, r3 = r2 + dp;
            for (int d = 0; d < headDim; d++) {
                int kb = d * BK;
                FloatVector k0 = FloatVector.fromArray(F, kt, kb);
                FloatVector k1 = FloatVector.fromArray(F, kt, kb + L);
                FloatVector k2 = FloatVector.fromArray(F, kt, kb + 2 * L);
                FloatVector k3 = FloatVector.fromArray(F, kt, kb + 3 * L);
                FloatVector b = FloatVector.broadcast(F, q[r0 + d]);
                a00 = b.fma(k0, a00);
                a01 = b.fma(k1, a01);
                a02 = b.fma(k2, a02);
                a03 = b.fma(k3, a03);
                b = FloatVector.broadcast(F, q[r1 + d]);
                a10 = b.fma(k0, a10);
                a11 = b.fma(k1, a11);
                a12 = b.fma(k2, a12);
                a13 = b.fma(k3, a13);
                b = FloatVector.broadcast(F, q[r2 + d]);
                a20 = b.fma(k0, a20);
                a21 = b.fma(k1, a21);
                a22 = b.fma(k2, a22);
                a23 = b.fma(k3, a23);
                b = FloatVector.broadcast(F, q[r3 + d]);
                a30 = b.fma(k0, a30);
                a31 = b.fma(k1, a31);
                a32 = b.fma(k2, a32);
                a33 = b.fma(k3, a33);
            }
            int o = i * BK;
            a00.intoArray(out, o);
            a01.intoArray(out, o + L);
            a02.intoArray(out, o + 2 * L);
            a03.intoArray(out, o + 3 * L);
            a10.intoArray(out, o + BK);
            a11.intoArray(out, o + BK + L);
            a12.intoArray(out, o + BK + 2 * L);
            a13.intoArray(out, o + BK + 3 * L);
            a20.intoArray(out, o + 2 * BK);
            a21.intoArray(out, o + 2 * BK + L);
            a22.intoArray(out, o + 2 * BK + 2 * L);
            a23.intoArray(out, o + 2 * BK + 3 * L);
            a30.intoArray(out, o + 3 * BK);
            a31.intoArray(out, o + 3 * BK + L);
            a32.intoArray(out, o + 3 * BK + 2 * L);
            a33.intoArray(out, o + 3 * BK + 3 * L);
        }
        for (; i < bq; i++) {
            FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
            int r = i * dp;
            for (int d = 0; d < headDim; d++) {
                int kb = d * BK;
                FloatVector b = FloatVector.broadcast(F, q[r + d]);
                a0 = b.fma(FloatVector.fromArray(F, kt, kb), a0);
                a1 = b.fma(FloatVector.fromArray(F, kt, kb + L), a1);
                a2 = b.fma(FloatVector.fromArray(F, kt, kb + 2 * L), a2);
                a3 = b.fma(FloatVector.fromArray(F, kt, kb + 3 * L), a3);
            }
            int o = i * BK;
            a0.intoArray(out, o);
            a1.intoArray(out, o + L);
            a2.intoArray(out, o + 2 * L);
            a3.intoArray(out, o + 3 * L);
        }
    }

    /**
     * Turns row i's scores into probabilities relative to the new running max, masked to the keys the row
     * may see, and records the factor exp(m_old - m_new) by which the row's earlier output shrinks.
     */
    private static void softmaxUpdate(Scratch s, int bq, int bk, int i0, int j0, int nk, long queryOffset,
                                      long chunkTokens) {
        float[] sc = s.s;
        for (int i = 0; i < bq; i++) {
            long lim = visible(queryOffset + i0 + i, nk, chunkTokens) - j0;
            int n = (int) Math.max(0, Math.min(bk, lim));
            s.valid[i] = n;
            if (n == 0) {
                s.corr[i] = 1f;
                continue;
            }
            int base = i * BK;
            float mx = Float.NEGATIVE_INFINITY;
            for (int j = 0; j < n; j += L) {
                VectorMask<Float> in = F.indexInRange(j, n);
                mx = Math.max(mx, FloatVector.fromArray(F, sc, base + j).reduceLanes(VectorOperators.MAX, in));
            }
            float mOld = s.m[i];
            float mNew = Math.max(mOld, mx);
            float corr = (float) Math.exp(mOld - mNew);
            FloatVector sum = FloatVector.zero(F);
            for (int j = 0; j < n; j += L) {
                VectorMask<Float> in = F.indexInRange(j, n);
                FloatVector p = FloatVector.fromArray(F, sc, base + j).sub(mNew).lanewise(VectorOperators.EXP);
                p = FloatVector.zero(F).blend(p, in);
                sum = sum.add(p);
                p.intoArray(sc, base + j);
            }
            s.m[i] = mNew;
            s.l[i] = s.l[i] * corr + sum.reduceLanes(VectorOperators.ADD);
            s.corr[i] = corr;
        }
    }

    /** O_i = O_i · corr_i + Σ_j P_ij V_j, two output vectors at a time. */
    private static void accumulate(Scratch s, int dp, int bq) {
        float[] o = s.o, p = s.s, v = s.v;
        for (int i = 0; i < bq; i++) {
            int n = s.valid[i];
            float corr = s.corr[i];
            if (n == 0) {
                continue;
            }
            int ob = i * dp;
            int pb = i * BK;
            int d = 0;
            for (; d + 2 * L <= dp; d += 2 * L) {
                FloatVector c0 = FloatVector.fromArray(F, o, ob + d).mul(corr);
                FloatVector c1 = FloatVector.fromArray(F, o, ob + d + L).mul(corr);
                for (int j = 0; j < n; j++) {
                    FloatVector pj = FloatVector.broadcast(F, p[pb + j]);
                    int vb = j * dp + d;
                    c0 = pj.fma(FloatVector.fromArray(F, v, vb), c0);
                    c1 = pj.fma(FloatVector.fromArray(F, v, vb + L), c1);
                }
                c0.intoArray(o, ob + d);
                c1.intoArray(o, ob + d + L);
            }
            for (; d < dp; d += L) {
                FloatVector c0 = FloatVector.fromArray(F, o, ob + d).mul(corr);
                for (int j = 0; j < n; j++) {
                    c0 = FloatVector.broadcast(F, p[pb + j]).fma(FloatVector.fromArray(F, v, j * dp + d), c0);
                }
                c0.intoArray(o, ob + d);
            }
        }
    }
}
