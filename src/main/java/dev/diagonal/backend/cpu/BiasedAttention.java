package dev.diagonal.backend.cpu;

import dev.diagonal.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Attention with a per-head additive bias over the whole key range (T5's relative positions). Text encoders
 * see at most a few hundred tokens, so each (head, query) row is done directly: logits, max, exp, weighted
 * sum of values, in float with a double-precision softmax denominator. The DiT's long sequences use
 * {@link FlashAttention} instead.
 */
final class BiasedAttention {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;

    private BiasedAttention() {
    }

    static void attention(Parallel parallel, Tensor q, Tensor k, Tensor v, Tensor bias, int heads, float scale, Tensor out) {
        String op = "biasedAttention";
        for (Tensor t : new Tensor[] {q, k, v, bias, out}) {
            Checks.f32(op, "argument", t);
        }
        if (q.rank() != 2 || k.rank() != 2 || v.rank() != 2 || out.rank() != 2 || heads < 1 || q.dim(1) % heads != 0
                || k.dim(1) != q.dim(1) || v.dim(1) != q.dim(1) || !java.util.Arrays.equals(out.shape(), q.shape())
                || k.dim(0) != v.dim(0)) {
            throw Checks.fail(op, "q " + q + ", k " + k + ", v " + v + ", out " + out + " do not fit " + heads + " heads");
        }
        int nq = Checks.toInt(op, "queries", q.dim(0)), nk = Checks.toInt(op, "keys", k.dim(0));
        int width = (int) q.dim(1), hd = width / heads;
        if (bias.rank() != 3 || bias.dim(0) != heads || bias.dim(1) != nq || bias.dim(2) != nk) {
            throw Checks.fail(op, "bias " + bias + " must be [" + heads + ", " + nq + ", " + nk + "]");
        }
        MemorySegment qs = q.data(), ks = k.data(), vs = v.data(), bs = bias.data(), os = out.data();
        Parallel par = parallel.usableFor(q, k, v, bias, out);
        int rows = heads * nq;
        par.forRange(rows, par.grain(rows, 4), (r0, r1) -> {
            float[] logits = new float[nk];
            float[] acc = new float[hd];
            for (int r = r0; r < r1; r++) {
                int h = r / nq, i = r % nq;
                long qo = ((long) i * width + (long) h * hd) * 4;
                float max = Float.NEGATIVE_INFINITY;
                for (int j = 0; j < nk; j++) {
                    long ko = ((long) j * width + (long) h * hd) * 4;
                    float dot = 0;
                    for (int c = 0; c < hd; c++) {
                        dot += qs.get(F32, qo + 4L * c) * ks.get(F32, ko + 4L * c);
                    }
                    float l = scale * dot + bs.get(F32, (((long) h * nq + i) * nk + j) * 4);
                    logits[j] = l;
                    max = Math.max(max, l);
                }
                java.util.Arrays.fill(acc, 0f);
                double sum = 0;
                for (int j = 0; j < nk; j++) {
                    float p = max == Float.NEGATIVE_INFINITY ? 0f : (float) Math.exp(logits[j] - max);
                    sum += p;
                    if (p != 0f) {
                        long vo = ((long) j * width + (long) h * hd) * 4;
                        for (int c = 0; c < hd; c++) {
                            acc[c] += p * vs.get(F32, vo + 4L * c);
                        }
                    }
                }
                float inv = sum > 0 ? (float) (1 / sum) : 0f;
                for (int c = 0; c < hd; c++) {
                    os.set(F32, qo + 4L * c, acc[c] * inv);
                }
            }
        });
    }
}
