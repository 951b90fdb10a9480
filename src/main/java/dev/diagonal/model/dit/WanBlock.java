package dev.diagonal.model.dit;

import dev.diagonal.backend.Backend;
import dev.diagonal.tensor.Tensor;

/**
 * One Wan attention block, in Wan's order: self-attention on the adaLN-modulated norm with a gated residual,
 * cross-attention to the text on norm3, then the modulated feed-forward with a gated residual. Wan normalizes,
 * then modulates; modulation vectors are per latent frame (each frame carries its own timestep).
 */
final class WanBlock {
    private final int layer;
    private final int heads;
    private final float eps;
    private final Tensor modulation;
    private final Linear q, k, v, o;
    private final Tensor normQ, normK;
    private final Linear crossQ, crossK, crossV, crossO;
    private final Tensor crossNormQ, crossNormK;
    private final Tensor norm3Weight, norm3Bias;
    private final Linear ffn0, ffn2;
    private final Tensor ropeTable;

    WanBlock(int layer, WanConfig c, Parameters p, Tensor ropeTable) {
        String b = "blocks." + layer + ".";
        this.layer = layer;
        this.heads = c.numHeads();
        this.eps = c.eps();
        this.modulation = p.vector(b + "modulation").reshape(6, c.dim());
        this.q = p.linear(b + "self_attn.q");
        this.k = p.linear(b + "self_attn.k");
        this.v = p.linear(b + "self_attn.v");
        this.o = p.linear(b + "self_attn.o");
        this.normQ = p.vector(b + "self_attn.norm_q.weight");
        this.normK = p.vector(b + "self_attn.norm_k.weight");
        this.crossQ = p.linear(b + "cross_attn.q");
        this.crossK = p.linear(b + "cross_attn.k");
        this.crossV = p.linear(b + "cross_attn.v");
        this.crossO = p.linear(b + "cross_attn.o");
        this.crossNormQ = p.vector(b + "cross_attn.norm_q.weight");
        this.crossNormK = p.vector(b + "cross_attn.norm_k.weight");
        this.norm3Weight = p.vector(b + "norm3.weight");
        this.norm3Bias = p.vector(b + "norm3.bias");
        this.ffn0 = p.linear(b + "ffn.0");
        this.ffn2 = p.linear(b + "ffn.2");
        this.ropeTable = ropeTable;
    }

    /** This block's cross-attention keys and values of the embedded text [textLen, dim]. */
    void encodeText(Backend bk, Tensor text, Tensor keysOut, Tensor valuesOut, Tensor scratch) {
        crossK.forward(bk, text, scratch);
        bk.rmsNorm(scratch, crossNormK, eps, keysOut);
        crossV.forward(bk, text, valuesOut);
    }

    /** x <- block(x) for one chunk at frame offset {@code frameOffset}, writing this chunk's K/V into the cache. */
    void forward(Backend bk, Activations a, TextContext text, KvCache cache, int frameOffset) {
        int perFrame = a.tokensPerFrame;
        splitModulation(bk, a);

        // Self-attention over the cache, which ends with this chunk's own tokens.
        bk.layerNorm(a.x, null, null, eps, a.norm);
        bk.modulate(a.norm, a.mod[0], a.mod[1], perFrame, a.norm);
        q.forward(bk, a.norm, a.tmp);
        bk.rmsNorm(a.tmp, normQ, eps, a.q);
        k.forward(bk, a.norm, a.tmp);
        bk.rmsNorm(a.tmp, normK, eps, a.k);
        v.forward(bk, a.norm, a.v);
        bk.rope3d(a.q, heads, a.frames, a.gridH, a.gridW, frameOffset, ropeTable);
        bk.rope3d(a.k, heads, a.frames, a.gridH, a.gridW, frameOffset, ropeTable);
        cache.write(layer, a.k, a.v);
        // The cache holds exactly what this chunk may see (the window, the sink, itself): no mask needed.
        bk.attention(a.q, cache.keys(layer), cache.values(layer), a.attn, heads, 0, 0);
        o.forward(bk, a.attn, a.y);
        bk.gatedAdd(a.x, a.y, a.mod[2], perFrame);

        // Cross-attention to the prompt (no modulation, plain residual).
        bk.layerNorm(a.x, norm3Weight, norm3Bias, eps, a.norm);
        crossQ.forward(bk, a.norm, a.tmp);
        bk.rmsNorm(a.tmp, crossNormQ, eps, a.q);
        bk.attention(a.q, text.keys(layer), text.values(layer), a.attn, heads, 0, 0);
        crossO.forward(bk, a.attn, a.y);
        bk.add(a.x, a.y);

        // Feed-forward.
        bk.layerNorm(a.x, null, null, eps, a.norm);
        bk.modulate(a.norm, a.mod[3], a.mod[4], perFrame, a.norm);
        ffn0.forward(bk, a.norm, a.hidden);
        bk.geluTanh(a.hidden);
        ffn2.forward(bk, a.hidden, a.y);
        bk.gatedAdd(a.x, a.y, a.mod[5], perFrame);
    }

    // mod[j][f] = modulation[j] + e0[f, j]: the block's learned offsets on the shared time projection.
    private void splitModulation(Backend bk, Activations a) {
        Tensor e0 = a.e0.reshape((long) a.frames * 6, modulation.dim(1));
        for (int j = 0; j < 6; j++) {
            for (int f = 0; f < a.frames; f++) {
                bk.copyRows(e0, (long) f * 6 + j, a.mod[j], f, 1);
            }
            bk.addRow(a.mod[j], modulation.rows(j, 1).reshape(modulation.dim(1)));
        }
    }
}
