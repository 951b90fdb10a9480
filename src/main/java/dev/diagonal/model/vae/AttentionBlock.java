package dev.diagonal.model.vae;

import dev.diagonal.backend.Backend;
import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;

import java.lang.foreign.Arena;

/**
 * The middle block's single-head self-attention over the pixels of each frame (frames do not see each
 * other), with a residual. Wan's to_qkv is one 1x1 conv; its weight rows split into the q, k and v linears.
 */
final class AttentionBlock {
    private final ChannelNorm norm;
    private final Tensor wq, wk, wv, bq, bk, bv;
    private final Tensor proj, projBias;

    AttentionBlock(VaeParameters p, String prefix) {
        norm = new ChannelNorm(p, prefix + ".norm.gamma");
        Tensor qkv = p.matrix(prefix + ".to_qkv.weight");
        Tensor qkvBias = p.vector(prefix + ".to_qkv.bias");
        long c = qkv.dim(1);
        wq = qkv.rows(0, c);
        wk = qkv.rows(c, c);
        wv = qkv.rows(2 * c, c);
        bq = qkvBias.rows(0, c);
        bk = qkvBias.rows(c, c);
        bv = qkvBias.rows(2 * c, c);
        proj = p.matrix(prefix + ".proj.weight");
        projBias = p.vector(prefix + ".proj.bias");
    }

    /** Consumes x and returns x + attention(norm(x)), frame by frame. */
    Activation forward(Backend be, Activation x) {
        long pixels = x.height() * x.width(), c = x.channels();
        try (x; Activation n = norm.forward(be, x, false); Arena tmp = Arena.ofShared()) {
            Activation out = Activation.allocate(be, x.frames(), x.height(), x.width(), c);
            Tensor q = be.allocate(tmp, DType.F32, pixels, c);
            Tensor k = be.allocate(tmp, DType.F32, pixels, c);
            Tensor v = be.allocate(tmp, DType.F32, pixels, c);
            Tensor o = be.allocate(tmp, DType.F32, pixels, c);
            for (long f = 0; f < x.frames(); f++) {
                Tensor frame = n.rows().rows(f * pixels, pixels);
                be.linear(frame, wq, bq, q);
                be.linear(frame, wk, bk, k);
                be.linear(frame, wv, bv, v);
                be.attention(q, k, v, o, 1, 0, 0);
                Tensor dst = out.rows().rows(f * pixels, pixels);
                be.linear(o, proj, projBias, dst);
                be.add(dst, x.rows().rows(f * pixels, pixels));
            }
            return out;
        }
    }
}
