package dev.diagonal.model.dit;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The checkpoint contract: every parameter name of a Wan2.1 T2V DiT and its shape, as the Wan2.1,
 * Self-Forcing and Diagonal Distillation checkpoints name them (after key-prefix normalization).
 */
public final class WanKeys {
    private WanKeys() {
    }

    /** Name to shape, in a stable order (embeddings, blocks, head). */
    public static Map<String, long[]> of(WanConfig c) {
        long d = c.dim();
        Map<String, long[]> m = new LinkedHashMap<>();
        m.put("patch_embedding.weight", new long[]{d, c.inDim(), c.patchT(), c.patchH(), c.patchW()});
        m.put("patch_embedding.bias", new long[]{d});
        linear(m, "text_embedding.0", d, c.textDim());
        linear(m, "text_embedding.2", d, d);
        linear(m, "time_embedding.0", d, c.freqDim());
        linear(m, "time_embedding.2", d, d);
        linear(m, "time_projection.1", 6 * d, d);
        for (int i = 0; i < c.numLayers(); i++) {
            String b = "blocks." + i + ".";
            m.put(b + "modulation", new long[]{1, 6, d});
            for (String attn : new String[]{"self_attn", "cross_attn"}) {
                for (String p : new String[]{"q", "k", "v", "o"}) {
                    linear(m, b + attn + "." + p, d, d);
                }
                m.put(b + attn + ".norm_q.weight", new long[]{d});
                m.put(b + attn + ".norm_k.weight", new long[]{d});
            }
            m.put(b + "norm3.weight", new long[]{d});
            m.put(b + "norm3.bias", new long[]{d});
            linear(m, b + "ffn.0", c.ffnDim(), d);
            linear(m, b + "ffn.2", d, c.ffnDim());
        }
        linear(m, "head.head", c.headFeatures(), d);
        m.put("head.modulation", new long[]{1, 2, d});
        return m;
    }

    private static void linear(Map<String, long[]> m, String prefix, long out, long in) {
        m.put(prefix + ".weight", new long[]{out, in});
        m.put(prefix + ".bias", new long[]{out});
    }

    /** Parameter count of a config. */
    public static long parameterCount(WanConfig c) {
        long n = 0;
        for (long[] s : of(c).values()) {
            long p = 1;
            for (long x : s) {
                p *= x;
            }
            n += p;
        }
        return n;
    }
}
