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
 * <p>Once per call, every key tile is packed transposed (Kᵀ: [head][tile][headDim][BK]) and V padded
 * ([head][key][headDim rounded up to a vector]) into buffers shared by all query blocks, so the packing
 * (scalar transposes) is paid once rather than once per query block. Scores then come from broadcast-q x
 * key-vector FMAs, 4 query rows x 4 vectors of keys at a time, and P·V from broadcast-p x V-row FMAs,
 * 2 rows x 4 vectors at a time. The 1/sqrt(headDim) scale is folded into the packed queries.
 *
 * <p>Not thread-safe per instance (it reuses its packing buffers): calls are serialized.
 */
final class FlashAttention {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();
    private static final int BQ = 64;
    private static final int BK = 4 * L;
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;

    private final Parallel parallel;
    private float[] packedK = new float[0];
    private float[] packedV = new float[0];

    FlashAttention(Parallel parallel) {
        this.parallel = parallel;
    }

    synchronized void attention(Tensor q, Tensor k, Tensor v, Tensor out, int heads, long queryOffset, long chunkTokens) {
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
        boolean inline = work < (1 << 18);

        // Only keys some query can see are packed: the last query sees the most.
        int keyEnd = (int) visible(queryOffset + nq - 1, nk, chunkTokens);
        int tiles = (keyEnd + BK - 1) / BK;
        long kSize = (long) heads * tiles * headDim * BK;
        long vSize = (long) heads * tiles * BK * dp;
        if (Math.max(kSize, vSize) > Integer.MAX_VALUE - 64) {
            throw Checks.fail(op, "k " + k + " is too large to pack for " + heads + " heads");
        }
        if (packedK.length < kSize) {
            packedK = new float[(int) kSize];
        }
        if (packedV.length < vSize) {
            packedV = new float[(int) vSize];
        }
        float[] kt = packedK, vp = packedV;
        par.forRange(heads * tiles, inline ? heads * tiles : par.grain(heads * tiles, 4), (t0, t1) -> {
            float[] row = new float[headDim];
            for (int t = t0; t < t1; t++) {
                packTile(ks, vs, kt, vp, dim, headDim, dp, t / tiles, t % tiles, tiles, keyEnd, row);
            }
        });

        par.forRange(tasks, inline ? tasks : 1, (t0, t1) -> {
            Scratch s = new Scratch(headDim, dp);
            for (int t = t0; t < t1; t++) {
                int h = t / qBlocks;
                int i0 = (t % qBlocks) * BQ;
                int bq = Math.min(BQ, nq - i0);
                block(s, qs, os, kt, vp, dim, headDim, h, tiles, i0, bq, nk, queryOffset, chunkTokens, scale);
            }
        });
    }

    /** Key tile `tile` of head h: Kᵀ [headDim][BK] and V [BK][dp], zero past keyEnd and past headDim. */
    private static void packTile(MemorySegment ks, MemorySegment vs, float[] kt, float[] vp, int dim, int headDim,
                                 int dp, int h, int tile, int tiles, int keyEnd, float[] row) {
        int kBase = (h * tiles + tile) * headDim * BK;
        int vBase = (h * tiles + tile) * BK * dp;
        int j0 = tile * BK;
        int bk = Math.min(BK, keyEnd - j0);
        long col = (long) h * headDim;
        for (int j = 0; j < bk; j++) {
            long src = ((long) (j0 + j) * dim + col) * 4;
            MemorySegment.copy(ks, F32, src, row, 0, headDim);
            for (int d = 0; d < headDim; d++) {
                kt[kBase + d * BK + j] = row[d];
            }
            MemorySegment.copy(vs, F32, src, vp, vBase + j * dp, headDim);
            java.util.Arrays.fill(vp, vBase + j * dp + headDim, vBase + (j + 1) * dp, 0f);
        }
        for (int j = bk; j < BK; j++) {
            for (int d = 0; d < headDim; d++) {
                kt[kBase + d * BK + j] = 0f;
            }
            java.util.Arrays.fill(vp, vBase + j * dp, vBase + (j + 1) * dp, 0f);
        }
    }

    /** Per-thread working memory, reused across the thread's tasks. */
    private static final class Scratch {
        final float[] q;
        final float[] o;
        final float[] s = new float[BQ * BK];
        final float[] m = new float[BQ];
        final float[] l = new float[BQ];
        final float[] corr = new float[BQ];
        final int[] valid = new int[BQ];
        final float[] lanes = new float[L];
        final float[] row;

        Scratch(int headDim, int dp) {
            q = new float[BQ * dp];
            o = new float[BQ * dp];
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

    private static void block(Scratch s, MemorySegment qs, MemorySegment os, float[] kt, float[] vp, int dim,
                              int headDim, int h, int tiles, int i0, int bq, int nk, long queryOffset,
                              long chunkTokens, float scale) {
        int dp = s.q.length / BQ;
        int col = h * headDim;
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
            int tile = h * tiles + j0 / BK;
            scores(s, kt, tile * headDim * BK, headDim, dp, bq);
            softmaxUpdate(s, bq, bk, i0, j0, nk, queryOffset, chunkTokens);
            accumulate(s, vp, tile * BK * dp, dp, bq);
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

    /** S[i][0..BK) = q_i · Kᵀ for the block's rows, 4 rows x 4 key vectors per register tile. */
    private static void scores(Scratch s, float[] kt, int ktOff, int headDim, int dp, int bq) {
        float[] q = s.q, out = s.s;
        int i = 0;
        for (; i + 4 <= bq; i += 4) {
            FloatVector a00 = FloatVector.zero(F), a01 = a00, a02 = a00, a03 = a00;
            FloatVector a10 = a00, a11 = a00, a12 = a00, a13 = a00;
            FloatVector a20 = a00, a21 = a00, a22 = a00, a23 = a00;
            FloatVector a30 = a00, a31 = a00, a32 = a00, a33 = a00;
            int r0 = i * dp, r1 = r0 + dp, r2 = r1 + dp, r3 = r2 + dp;
            for (int d = 0; d < headDim; d++) {
                int kb = ktOff + d * BK;
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
                int kb = ktOff + d * BK;
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
            int base = i * BK;
            // P must be zero past n: P·V pairs rows and runs both to the longer one's key count.
            java.util.Arrays.fill(sc, base + (n + L - 1) / L * L, base + BK, 0f);
            if (n == 0) {
                s.corr[i] = 1f;
                continue;
            }
            float mx = Float.NEGATIVE_INFINITY;
            for (int j = 0; j < n; j += L) {
                VectorMask<Float> in = F.indexInRange(j, n);
                mx = Math.max(mx, FloatVector.fromArray(F, sc, base + j).reduceLanes(VectorOperators.MAX, in));
            }
            float mOld = s.m[i];
            float mNew = Math.max(mOld, mx);
            float corr = VectorMath.exp(mOld - mNew);
            FloatVector sum = FloatVector.zero(F);
            for (int j = 0; j < n; j += L) {
                VectorMask<Float> in = F.indexInRange(j, n);
                FloatVector p = VectorMath.exp(FloatVector.fromArray(F, sc, base + j).sub(mNew));
                p = FloatVector.zero(F).blend(p, in);
                sum = sum.add(p);
                p.intoArray(sc, base + j);
            }
            s.m[i] = mNew;
            s.l[i] = s.l[i] * corr + VectorMath.sum(sum, s.lanes);
            s.corr[i] = corr;
        }
    }

    /** O_i = O_i · corr_i + Σ_j P_ij V_j: 2 rows x 4 output vectors per register tile where D allows. */
    private static void accumulate(Scratch s, float[] v, int vOff, int dp, int bq) {
        float[] o = s.o, p = s.s;
        int i = 0;
        for (; i + 2 <= bq; i += 2) {
            int n = Math.max(s.valid[i], s.valid[i + 1]);
            float corr0 = s.corr[i], corr1 = s.corr[i + 1];
            int o0 = i * dp, o1 = o0 + dp;
            int p0 = i * BK, p1 = p0 + BK;
            int d = 0;
            for (; d + 4 * L <= dp; d += 4 * L) {
                FloatVector a0 = FloatVector.fromArray(F, o, o0 + d).mul(corr0);
                FloatVector a1 = FloatVector.fromArray(F, o, o0 + d + L).mul(corr0);
                FloatVector a2 = FloatVector.fromArray(F, o, o0 + d + 2 * L).mul(corr0);
                FloatVector a3 = FloatVector.fromArray(F, o, o0 + d + 3 * L).mul(corr0);
                FloatVector b0 = FloatVector.fromArray(F, o, o1 + d).mul(corr1);
                FloatVector b1 = FloatVector.fromArray(F, o, o1 + d + L).mul(corr1);
                FloatVector b2 = FloatVector.fromArray(F, o, o1 + d + 2 * L).mul(corr1);
                FloatVector b3 = FloatVector.fromArray(F, o, o1 + d + 3 * L).mul(corr1);
                for (int j = 0; j < n; j++) {
                    int vb = vOff + j * dp + d;
                    FloatVector v0 = FloatVector.fromArray(F, v, vb);
                    FloatVector v1 = FloatVector.fromArray(F, v, vb + L);
                    FloatVector v2 = FloatVector.fromArray(F, v, vb + 2 * L);
                    FloatVector v3 = FloatVector.fromArray(F, v, vb + 3 * L);
                    FloatVector pa = FloatVector.broadcast(F, p[p0 + j]);
                    FloatVector pb = FloatVector.broadcast(F, p[p1 + j]);
                    a0 = pa.fma(v0, a0);
                    a1 = pa.fma(v1, a1);
                    a2 = pa.fma(v2, a2);
                    a3 = pa.fma(v3, a3);
                    b0 = pb.fma(v0, b0);
                    b1 = pb.fma(v1, b1);
                    b2 = pb.fma(v2, b2);
                    b3 = pb.fma(v3, b3);
                }
                a0.intoArray(o, o0 + d);
                a1.intoArray(o, o0 + d + L);
                a2.intoArray(o, o0 + d + 2 * L);
                a3.intoArray(o, o0 + d + 3 * L);
                b0.intoArray(o, o1 + d);
                b1.intoArray(o, o1 + d + L);
                b2.intoArray(o, o1 + d + 2 * L);
                b3.intoArray(o, o1 + d + 3 * L);
            }
            for (; d < dp; d += L) {
                FloatVector a0 = FloatVector.fromArray(F, o, o0 + d).mul(corr0);
                FloatVector b0 = FloatVector.fromArray(F, o, o1 + d).mul(corr1);
                for (int j = 0; j < n; j++) {
                    FloatVector v0 = FloatVector.fromArray(F, v, vOff + j * dp + d);
                    a0 = FloatVector.broadcast(F, p[p0 + j]).fma(v0, a0);
                    b0 = FloatVector.broadcast(F, p[p1 + j]).fma(v0, b0);
                }
                a0.intoArray(o, o0 + d);
                b0.intoArray(o, o1 + d);
            }
        }
        for (; i < bq; i++) {
            int n = s.valid[i];
            float corr = s.corr[i];
            int ob = i * dp, pb = i * BK;
            for (int d = 0; d < dp; d += L) {
                FloatVector c0 = FloatVector.fromArray(F, o, ob + d).mul(corr);
                for (int j = 0; j < n; j++) {
                    c0 = FloatVector.broadcast(F, p[pb + j]).fma(FloatVector.fromArray(F, v, vOff + j * dp + d), c0);
                }
                c0.intoArray(o, ob + d);
            }
        }
    }
}
