package dev.diagonal.model.vae;

import dev.diagonal.io.Weights;
import dev.diagonal.model.dit.ParameterSource;
import dev.diagonal.tensor.Tensor;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The decoder's parameter names and shapes, as in Wan2.1_VAE.pth converted to safetensors (encoder and
 * conv1, which decoding never uses, are not part of the contract; a full VAE file can be filtered with
 * {@link #isDecoderKey}).
 */
public final class VaeKeys {
    private VaeKeys() {
    }

    public static Map<String, long[]> of(VaeConfig c) {
        Map<String, long[]> m = new LinkedHashMap<>();
        conv(m, "conv2", c.zDim(), c.zDim(), 1, 1, 1);
        List<Integer> dims = c.dims();
        conv(m, "decoder.conv1", dims.getFirst(), c.zDim(), 3, 3, 3);
        residual(m, "decoder.middle.0", dims.getFirst(), dims.getFirst());
        int d0 = dims.getFirst();
        m.put("decoder.middle.1.norm.gamma", new long[] {d0, 1, 1});
        m.put("decoder.middle.1.to_qkv.weight", new long[] {3L * d0, d0, 1, 1});
        m.put("decoder.middle.1.to_qkv.bias", new long[] {3L * d0});
        m.put("decoder.middle.1.proj.weight", new long[] {d0, d0, 1, 1});
        m.put("decoder.middle.1.proj.bias", new long[] {d0});
        residual(m, "decoder.middle.2", dims.getFirst(), dims.getFirst());
        int n = 0;
        int stages = c.dimMult().size();
        for (int i = 0; i < stages; i++) {
            int in = i == 0 ? dims.get(0) : dims.get(i) / 2, out = dims.get(i + 1);
            for (int r = 0; r <= c.numResBlocks(); r++) {
                residual(m, "decoder.upsamples." + n++, in, out);
                in = out;
            }
            if (i < stages - 1) {
                String p = "decoder.upsamples." + n++;
                if (c.temporalUpsample().get(i)) {
                    conv(m, p + ".time_conv", 2 * out, out, 3, 1, 1);
                }
                m.put(p + ".resample.1.weight", new long[] {out / 2, out, 3, 3});
                m.put(p + ".resample.1.bias", new long[] {out / 2});
            }
        }
        int last = dims.getLast();
        m.put("decoder.head.0.gamma", new long[] {last, 1, 1, 1});
        conv(m, "decoder.head.2", 3, last, 3, 3, 3);
        return m;
    }

    /** Whether a checkpoint key belongs to the decoder side (the rest of a full Wan VAE file is the encoder). */
    public static boolean isDecoderKey(String key) {
        return key.startsWith("decoder.") || key.startsWith("conv2.");
    }

    /** The decoder's side of a checkpoint: a whole Wan VAE file also holds the encoder, which decoding never reads. */
    public static ParameterSource decoderSide(Weights w) {
        Set<String> names = w.names().stream().filter(VaeKeys::isDecoderKey).collect(Collectors.toUnmodifiableSet());
        return new ParameterSource() {
            @Override
            public Tensor get(String name, long[] shape) {
                return w.get(name, shape);
            }

            @Override
            public Set<String> names() {
                return names;
            }
        };
    }

    public static long parameterCount(VaeConfig c) {
        return count(of(c));
    }

    /** Elements in all the shapes of a key contract. */
    static long count(Map<String, long[]> shapes) {
        long n = 0;
        for (long[] s : shapes.values()) {
            long e = 1;
            for (long d : s) {
                e *= d;
            }
            n += e;
        }
        return n;
    }

    private static void residual(Map<String, long[]> m, String p, int in, int out) {
        m.put(p + ".residual.0.gamma", new long[] {in, 1, 1, 1});
        conv(m, p + ".residual.2", out, in, 3, 3, 3);
        m.put(p + ".residual.3.gamma", new long[] {out, 1, 1, 1});
        conv(m, p + ".residual.6", out, out, 3, 3, 3);
        if (in != out) {
            conv(m, p + ".shortcut", out, in, 1, 1, 1);
        }
    }

    private static void conv(Map<String, long[]> m, String p, int out, int in, int kt, int kh, int kw) {
        m.put(p + ".weight", new long[] {out, in, kt, kh, kw});
        m.put(p + ".bias", new long[] {out});
    }
}
