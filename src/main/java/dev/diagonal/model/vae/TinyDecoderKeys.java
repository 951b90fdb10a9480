package dev.diagonal.model.vae;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The tiny decoder's parameter names and shapes, as tools/reference/tiny_decoder.py names them; every conv is
 * a Conv3d weight [Cout, Cin, kt, kh, kw] with a bias.
 */
public final class TinyDecoderKeys {
    private TinyDecoderKeys() {
    }

    public static Map<String, long[]> of(TinyDecoderConfig c) {
        Map<String, long[]> m = new LinkedHashMap<>();
        conv(m, "conv_in", c.widths().getFirst(), c.zDim(), 1, 3);
        int levels = c.widths().size();
        for (int i = 0; i < levels; i++) {
            int w = c.widths().get(i);
            for (int b = 0; b < c.blocks().get(i); b++) {
                String p = "levels." + i + ".blocks." + b;
                conv(m, p + ".mix", w, w, 2, 3);
                conv(m, p + ".conv", w, w, 1, 3);
            }
            if (i < levels - 1) {
                if (c.temporalUpsample().get(i)) {
                    conv(m, "levels." + i + ".grow", 2 * w, w, 1, 1);
                }
                conv(m, "levels." + i + ".up", c.widths().get(i + 1), w, 1, 3);
            }
        }
        conv(m, "conv_out", 3, c.widths().getLast(), 1, 3);
        return m;
    }

    public static long parameterCount(TinyDecoderConfig c) {
        return VaeKeys.count(of(c));
    }

    private static void conv(Map<String, long[]> m, String p, int out, int in, int kt, int k) {
        m.put(p + ".weight", new long[] {out, in, kt, k, k});
        m.put(p + ".bias", new long[] {out});
    }
}
