package dev.diagonal.model.t5;

import java.util.LinkedHashMap;
import java.util.Map;

/** The encoder's parameter names and shapes, as in Wan's models_t5_umt5-xxl-enc-bf16.pth. */
public final class T5Keys {
    private T5Keys() {
    }

    public static Map<String, long[]> of(T5Config c) {
        Map<String, long[]> m = new LinkedHashMap<>();
        m.put("token_embedding.weight", new long[] {c.vocab(), c.dim()});
        for (int i = 0; i < c.layers(); i++) {
            String p = "blocks." + i + ".";
            m.put(p + "norm1.weight", new long[] {c.dim()});
            for (String n : new String[] {"q", "k", "v"}) {
                m.put(p + "attn." + n + ".weight", new long[] {c.dimAttn(), c.dim()});
            }
            m.put(p + "attn.o.weight", new long[] {c.dim(), c.dimAttn()});
            m.put(p + "norm2.weight", new long[] {c.dim()});
            m.put(p + "ffn.gate.0.weight", new long[] {c.ffnDim(), c.dim()});
            m.put(p + "ffn.fc1.weight", new long[] {c.ffnDim(), c.dim()});
            m.put(p + "ffn.fc2.weight", new long[] {c.dim(), c.ffnDim()});
            m.put(p + "pos_embedding.embedding.weight", new long[] {c.buckets(), c.heads()});
        }
        m.put("norm.weight", new long[] {c.dim()});
        return m;
    }

    public static long parameterCount(T5Config c) {
        long n = 0;
        for (long[] s : of(c).values()) {
            n += s[0] * (s.length > 1 ? s[1] : 1);
        }
        return n;
    }
}
