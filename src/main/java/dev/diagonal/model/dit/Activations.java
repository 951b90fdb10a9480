package dev.diagonal.model.dit;

import dev.diagonal.backend.Backend;
import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;

import java.lang.foreign.Arena;

/**
 * Scratch buffers for one chunk shape (frames x height x width latents), allocated once and reused by every
 * forward pass of a stream, so steady-state generation allocates nothing (and a CUDA backend can capture the
 * pass as a graph over fixed addresses).
 */
public final class Activations {
    final int frames;
    final int gridH;
    final int gridW;
    final int tokens;
    final int tokensPerFrame;
    final Tensor sinusoid;
    final Tensor timeHidden;
    final Tensor e;
    final Tensor eSilu;
    final Tensor e0;
    final Tensor[] mod = new Tensor[6];
    final Tensor headShift;
    final Tensor headScale;
    final Tensor patches;
    final Tensor x;
    final Tensor norm;
    final Tensor q;
    final Tensor k;
    final Tensor v;
    final Tensor attn;
    final Tensor tmp;
    final Tensor y;
    final Tensor hidden;
    final Tensor headOut;

    Activations(Backend b, Arena arena, WanConfig c, int frames, int height, int width) {
        if (frames % c.patchT() != 0 || height % c.patchH() != 0 || width % c.patchW() != 0) {
            throw new IllegalArgumentException("latent " + frames + "x" + height + "x" + width
                    + " is not divisible by the patch " + c.patchT() + "x" + c.patchH() + "x" + c.patchW());
        }
        this.frames = frames / c.patchT();
        this.gridH = height / c.patchH();
        this.gridW = width / c.patchW();
        this.tokensPerFrame = gridH * gridW;
        this.tokens = Math.multiplyExact(this.frames, tokensPerFrame);
        long d = c.dim();
        sinusoid = b.allocate(arena, DType.F32, this.frames, c.freqDim());
        timeHidden = b.allocate(arena, DType.F32, this.frames, d);
        e = b.allocate(arena, DType.F32, this.frames, d);
        eSilu = b.allocate(arena, DType.F32, this.frames, d);
        e0 = b.allocate(arena, DType.F32, this.frames, 6 * d);
        for (int i = 0; i < 6; i++) {
            mod[i] = b.allocate(arena, DType.F32, this.frames, d);
        }
        headShift = b.allocate(arena, DType.F32, this.frames, d);
        headScale = b.allocate(arena, DType.F32, this.frames, d);
        patches = b.allocate(arena, DType.F32, tokens, c.patchFeatures());
        x = b.allocate(arena, DType.F32, tokens, d);
        norm = b.allocate(arena, DType.F32, tokens, d);
        q = b.allocate(arena, DType.F32, tokens, d);
        k = b.allocate(arena, DType.F32, tokens, d);
        v = b.allocate(arena, DType.F32, tokens, d);
        attn = b.allocate(arena, DType.F32, tokens, d);
        tmp = b.allocate(arena, DType.F32, tokens, d);
        y = b.allocate(arena, DType.F32, tokens, d);
        hidden = b.allocate(arena, DType.F32, tokens, c.ffnDim());
        headOut = b.allocate(arena, DType.F32, tokens, c.headFeatures());
    }

    /** Latent frames per pass (after temporal patching). */
    public int frames() {
        return frames;
    }

    public int tokens() {
        return tokens;
    }

    public int tokensPerFrame() {
        return tokensPerFrame;
    }

    /** The block stream's hidden state after the last block (for tests and inspection). */
    public Tensor hiddenState() {
        return x;
    }
}
