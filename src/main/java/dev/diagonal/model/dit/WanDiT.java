package dev.diagonal.model.dit;

import dev.diagonal.backend.Backend;
import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The causal Wan2.1 text-to-video diffusion transformer: one chunk of latent frames in, its predicted flow
 * (v = noise - x0) out, attending to itself and to earlier chunks through a {@link KvCache}.
 *
 * <p>Parameters live in the arena given to {@link #load}; the model holds no per-stream state, so one model
 * serves many streams, each with its own cache, text context and activations.
 */
public final class WanDiT {
    private final WanConfig config;
    private final Backend backend;
    private final Linear patchEmbedding;
    private final Linear textEmbedding0, textEmbedding2;
    private final Linear timeEmbedding0, timeEmbedding2;
    private final Linear timeProjection;
    private final List<WanBlock> blocks;
    private final Linear head;
    private final Tensor headModulation;

    private WanDiT(WanConfig config, Backend backend, Parameters p, Tensor ropeTable) {
        this.config = config;
        this.backend = backend;
        Linear conv = p.linear("patch_embedding");
        // A Conv3d whose kernel equals its stride is a Linear over flattened (c, kt, kh, kw) patches.
        this.patchEmbedding = new Linear(conv.weight().reshape(config.dim(), config.patchFeatures()), conv.bias());
        this.textEmbedding0 = p.linear("text_embedding.0");
        this.textEmbedding2 = p.linear("text_embedding.2");
        this.timeEmbedding0 = p.linear("time_embedding.0");
        this.timeEmbedding2 = p.linear("time_embedding.2");
        this.timeProjection = p.linear("time_projection.1");
        List<WanBlock> bs = new ArrayList<>();
        for (int i = 0; i < config.numLayers(); i++) {
            bs.add(new WanBlock(i, config, p, ropeTable));
        }
        this.blocks = List.copyOf(bs);
        this.head = p.linear("head.head");
        this.headModulation = p.vector("head.modulation").reshape(2, config.dim());
    }

    /**
     * Loads the model strictly (every parameter of {@link WanKeys} with its shape, no unknown ones) onto
     * {@code backend}; F32 copies of small parameters and any device copies are owned by {@code arena}.
     */
    public static WanDiT load(WanConfig config, ParameterSource source, Backend backend, Arena arena) {
        Parameters p = new Parameters(source, WanKeys.of(config), backend, arena);
        Tensor hostTable = RopeTable.create(arena, config.headDim());
        Tensor table = hostTable;
        if (backend.device() != hostTable.device()) {
            table = backend.allocate(arena, DType.F32, hostTable.shape());
            backend.copy(hostTable, table);
        }
        return new WanDiT(config, backend, p, table);
    }

    public WanConfig config() {
        return config;
    }

    public Backend backend() {
        return backend;
    }

    /** Scratch for chunks of {@code frames x height x width} latents, owned by {@code arena}. */
    public Activations activations(Arena arena, int frames, int height, int width) {
        return new Activations(backend, arena, config, frames, height, width);
    }

    /**
     * Embeds a prompt (umT5 output, [textLen, textDim], padded; every position is attended to, as Wan's T2V
     * does) and computes each block's cross-attention keys and values once.
     */
    public TextContext encodeText(Tensor promptEmbedding, Arena arena) {
        return encodeText(promptEmbedding, arena, Probe.NONE);
    }

    TextContext encodeText(Tensor promptEmbedding, Arena arena, Probe probe) {
        requireShape("prompt embedding", promptEmbedding, config.textLen(), config.textDim());
        Tensor in = onBackend(promptEmbedding, arena);
        Tensor hidden = backend.allocate(arena, DType.F32, config.textLen(), config.dim());
        Tensor text = backend.allocate(arena, DType.F32, config.textLen(), config.dim());
        textEmbedding0.forward(backend, in, hidden);
        backend.geluTanh(hidden);
        textEmbedding2.forward(backend, hidden, text);
        probe.at("text_embedding.out", text);
        Tensor[] keys = new Tensor[blocks.size()];
        Tensor[] values = new Tensor[blocks.size()];
        for (int i = 0; i < blocks.size(); i++) {
            keys[i] = backend.allocate(arena, DType.F32, config.textLen(), config.dim());
            values[i] = backend.allocate(arena, DType.F32, config.textLen(), config.dim());
            blocks.get(i).encodeText(backend, text, keys[i], values[i], hidden);
        }
        return new TextContext(keys, values);
    }

    /**
     * One pass over a chunk: latent [inDim, F, H, W] at per-frame timesteps (shifted scale), the chunk's first
     * frame being absolute frame {@code frameOffset}. The cache must have begun this chunk; the pass writes
     * the chunk's K/V into it. The predicted flow [outDim, F, H, W] goes to {@code flowOut}.
     */
    public void forward(Tensor latent, double[] timesteps, int frameOffset, TextContext text, KvCache cache,
                        Activations a, Tensor flowOut) {
        forward(latent, timesteps, frameOffset, text, cache, a, flowOut, Probe.NONE);
    }

    void forward(Tensor latent, double[] timesteps, int frameOffset, TextContext text, KvCache cache,
                 Activations a, Tensor flowOut, Probe probe) {
        long[] grid = {a.frames * config.patchT(), (long) a.gridH * config.patchH(), (long) a.gridW * config.patchW()};
        requireShape("latent", latent, config.inDim(), grid[0], grid[1], grid[2]);
        requireShape("flow output", flowOut, config.outDim(), grid[0], grid[1], grid[2]);
        if (timesteps.length != a.frames) {
            throw new IllegalArgumentException("chunk of " + a.frames + " frames got " + timesteps.length + " timesteps");
        }
        if (frameOffset < 0 || frameOffset + a.frames > RopeTable.MAX_POSITIONS) {
            throw new IllegalArgumentException("frames " + frameOffset + ".." + (frameOffset + a.frames)
                    + " exceed the " + RopeTable.MAX_POSITIONS + " positions of Wan's RoPE table");
        }
        embedTime(timesteps, a);
        probe.at("time_embedding.out", a.e);
        probe.at("time_projection.out", a.e0);
        backend.patchify(latent, config.patchT(), config.patchH(), config.patchW(), a.patches);
        patchEmbedding.forward(backend, a.patches, a.x);
        probe.at("patch_embedding.out", a.x);
        for (int i = 0; i < blocks.size(); i++) {
            blocks.get(i).forward(backend, a, text, cache, frameOffset);
            probe.at("blocks." + i + ".out", a.x);
        }
        headForward(a);
        probe.at("head.out", a.headOut);
        backend.unpatchify(a.headOut, config.patchT(), config.patchH(), config.patchW(), flowOut);
    }

    // e = time_embedding(sinusoid(t)) per frame, e0 = time_projection(e): the six adaLN vectors per frame.
    private void embedTime(double[] timesteps, Activations a) {
        try (Arena host = Arena.ofConfined()) {
            float[] sin = TimestepEmbedding.sinusoidal(config.freqDim(), timesteps);
            backend.copy(Tensor.ofFloats(host, sin, a.frames, config.freqDim()), a.sinusoid);
        }
        timeEmbedding0.forward(backend, a.sinusoid, a.timeHidden);
        backend.silu(a.timeHidden);
        timeEmbedding2.forward(backend, a.timeHidden, a.e);
        backend.copy(a.e, a.eSilu);
        backend.silu(a.eSilu);
        timeProjection.forward(backend, a.eSilu, a.e0);
    }

    // Wan's Head: LayerNorm, modulated by (head.modulation + e), then the linear projection to patches.
    private void headForward(Activations a) {
        backend.copy(a.e, a.headShift);
        backend.addRow(a.headShift, headModulation.rows(0, 1).reshape(config.dim()));
        backend.copy(a.e, a.headScale);
        backend.addRow(a.headScale, headModulation.rows(1, 1).reshape(config.dim()));
        backend.layerNorm(a.x, null, null, config.eps(), a.norm);
        backend.modulate(a.norm, a.headShift, a.headScale, a.tokensPerFrame, a.norm);
        head.forward(backend, a.norm, a.headOut);
    }

    private Tensor onBackend(Tensor t, Arena arena) {
        if (t.device() == backend.device() && t.dtype() == DType.F32) {
            return t;
        }
        Tensor host = Tensor.allocate(arena, DType.F32, t.shape());
        host.copyFrom(t);
        if (backend.device() == host.device()) {
            return host;
        }
        Tensor out = backend.allocate(arena, DType.F32, t.shape());
        backend.copy(host, out);
        return out;
    }

    private static void requireShape(String what, Tensor t, long... shape) {
        if (!Arrays.equals(t.shape(), shape)) {
            throw new IllegalArgumentException(what + " must be " + Arrays.toString(shape) + ", got " + t);
        }
        if (t.dtype() != DType.F32 && !what.equals("prompt embedding")) {
            throw new IllegalArgumentException(what + " must be F32, got " + t.dtype());
        }
    }
}
