package dev.diagonal.model.t5;

import dev.diagonal.backend.Backend;
import dev.diagonal.model.dit.ParameterSource;
import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;

import java.lang.foreign.Arena;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.BiConsumer;

/**
 * The umT5 encoder on a {@link Backend}: token ids to the context [textLen, dim] the DiT's cross-attention
 * reads, rows past the prompt zero (as Wan leaves them).
 *
 * <p>Only the prompt's own tokens are run. Wan runs all textLen positions with the padding masked out as
 * keys; since relative-position biases depend on distances only and no real token attends to padding, the
 * real rows come out the same, and a 20-token prompt costs 20 rows instead of 512.
 *
 * <p>Matrices stay in the checkpoint's dtype (bf16 for umT5-XXL: ~11 GB mapped, widened panel by panel in
 * the GEMM with fp32 accumulation); the 256k-row token table is only read at the prompt's ids.
 */
public final class T5Encoder {
    private final T5Config config;
    private final Backend backend;
    private final Tensor tokenEmbedding;
    private final Layer[] layers;
    private final Tensor finalNorm;

    private record Layer(Tensor norm1, Tensor q, Tensor k, Tensor v, Tensor o, Tensor norm2, Tensor gate, Tensor fc1,
                         Tensor fc2, float[] positionBias /* [buckets][heads] */) {
    }

    private T5Encoder(T5Config config, Backend backend, Tensor tokenEmbedding, Layer[] layers, Tensor finalNorm) {
        this.config = config;
        this.backend = backend;
        this.tokenEmbedding = tokenEmbedding;
        this.layers = layers;
        this.finalNorm = finalNorm;
    }

    /** Loads strictly: every name of {@link T5Keys} with its shape and nothing else. */
    public static T5Encoder load(T5Config config, ParameterSource source, Backend backend, Arena arena) {
        Map<String, long[]> keys = T5Keys.of(config);
        Set<String> unknown = new TreeSet<>(source.names());
        unknown.removeAll(keys.keySet());
        if (!unknown.isEmpty()) {
            throw new IllegalArgumentException("text encoder checkpoint has " + unknown.size()
                    + " parameters a " + config.name() + " encoder does not use: "
                    + (unknown.size() <= 10 ? unknown : unknown.stream().limit(10).toList() + " ..."));
        }
        Loader p = new Loader(source, keys, backend, arena);
        Layer[] layers = new Layer[config.layers()];
        for (int i = 0; i < layers.length; i++) {
            String b = "blocks." + i + ".";
            layers[i] = new Layer(p.vector(b + "norm1.weight"), p.matrix(b + "attn.q.weight"),
                    p.matrix(b + "attn.k.weight"), p.matrix(b + "attn.v.weight"), p.matrix(b + "attn.o.weight"),
                    p.vector(b + "norm2.weight"), p.matrix(b + "ffn.gate.0.weight"), p.matrix(b + "ffn.fc1.weight"),
                    p.matrix(b + "ffn.fc2.weight"), p.source(b + "pos_embedding.embedding.weight").toFloatArray());
        }
        return new T5Encoder(config, backend, p.source("token_embedding.weight"), layers, p.vector("norm.weight"));
    }

    public T5Config config() {
        return config;
    }

    /** Encodes token ids (the tokenizer's, EOS included) into a context [textLen, dim] F32 owned by {@code arena}. */
    public Tensor encode(int[] ids, Arena arena) {
        return encode(ids, arena, (name, t) -> {
        });
    }

    /** As {@link #encode(int[], Arena)}, handing each block's output [n, dim] to {@code probe} (for tests). */
    public Tensor encode(int[] ids, Arena arena, BiConsumer<String, Tensor> probe) {
        int n = ids.length;
        if (n < 1 || n > config.textLen()) {
            throw new IllegalArgumentException("text encoder takes 1.." + config.textLen() + " tokens, got " + n);
        }
        for (int id : ids) {
            if (id < 0 || id >= config.vocab()) {
                throw new IllegalArgumentException("token id " + id + " is outside the vocabulary (0.." + (config.vocab() - 1) + ")");
            }
        }
        Backend be = backend;
        int d = config.dim(), heads = config.heads();
        Tensor out = be.allocate(arena, DType.F32, config.textLen(), d);
        try (Arena tmp = Arena.ofShared()) {
            Tensor x = be.allocate(tmp, DType.F32, n, d);
            Tensor hostRows = Tensor.allocate(tmp, DType.F32, n, d);
            for (int i = 0; i < n; i++) {
                hostRows.rows(i, 1).copyFrom(tokenEmbedding.rows(ids[i], 1));
            }
            be.copy(hostRows, x);
            Tensor h = be.allocate(tmp, DType.F32, n, d);
            Tensor q = be.allocate(tmp, DType.F32, n, config.dimAttn());
            Tensor k = be.allocate(tmp, DType.F32, n, config.dimAttn());
            Tensor v = be.allocate(tmp, DType.F32, n, config.dimAttn());
            Tensor a = be.allocate(tmp, DType.F32, n, config.dimAttn());
            Tensor g = be.allocate(tmp, DType.F32, n, config.ffnDim());
            Tensor f = be.allocate(tmp, DType.F32, n, config.ffnDim());
            Tensor bias = be.allocate(tmp, DType.F32, heads, n, n);
            Tensor hostBias = Tensor.allocate(tmp, DType.F32, heads, n, n);
            int[] bucket = new int[2 * n - 1]; // by rel + n - 1
            for (int r = -(n - 1); r < n; r++) {
                bucket[r + n - 1] = RelativePosition.bucket(r, config.buckets(), config.maxDistance());
            }
            for (int l = 0; l < layers.length; l++) {
                Layer layer = layers[l];
                fillBias(layer.positionBias, bucket, n, heads, hostBias);
                be.copy(hostBias, bias);
                be.rmsNorm(x, layer.norm1, config.eps(), h);
                be.linear(h, layer.q, null, q);
                be.linear(h, layer.k, null, k);
                be.linear(h, layer.v, null, v);
                be.biasedAttention(q, k, v, bias, heads, 1f, a); // T5 does not scale its logits
                be.linear(a, layer.o, null, h);
                be.add(x, h);
                be.rmsNorm(x, layer.norm2, config.eps(), h);
                be.linear(h, layer.gate, null, g);
                be.geluTanh(g);
                be.linear(h, layer.fc1, null, f);
                be.mul(f, g);
                be.linear(f, layer.fc2, null, h);
                be.add(x, h);
                probe.accept("blocks." + l + ".out", x);
            }
            be.rmsNorm(x, finalNorm, config.eps(), out.rows(0, n));
        }
        return out;
    }

    private static void fillBias(float[] table, int[] bucket, int n, int heads, Tensor hostBias) {
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < n; i++) {
                long row = ((long) h * n + i) * n;
                for (int j = 0; j < n; j++) {
                    hostBias.setFloat(row + j, table[bucket[j - i + n - 1] * heads + h]);
                }
            }
        }
    }

    /** Matrices stay in their dtype; norm weights are widened; the token table and biases stay on the host. */
    private record Loader(ParameterSource source, Map<String, long[]> keys, Backend backend, Arena arena) {
        Tensor source(String name) {
            return source.get(name, keys.get(name));
        }

        Tensor matrix(String name) {
            Tensor t = source(name);
            if (t.device() == backend.device()) {
                return t;
            }
            Tensor d = backend.allocate(arena, t.dtype(), t.shape());
            backend.copy(t, d);
            return d;
        }

        Tensor vector(String name) {
            Tensor t = source(name);
            Tensor host = Tensor.allocate(arena, DType.F32, t.shape());
            host.copyFrom(t);
            if (host.device() == backend.device()) {
                return host;
            }
            Tensor d = backend.allocate(arena, DType.F32, t.shape());
            backend.copy(host, d);
            return d;
        }
    }
}
