package dev.diagonal.model.vae;

import dev.diagonal.backend.Backend;
import dev.diagonal.model.dit.ParameterSource;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;

/**
 * The Wan2.1 VAE decoder on a {@link Backend}: latents [16, F, h, w] to video frames [3, T, 8h, 8w] in about
 * [-1, 1]. Weights are immutable once loaded; decoding state lives in a {@link DecodeStream}, so one decoder
 * can serve several streams.
 *
 * <p>Activations are channels-last ([T, H, W, C]), so every conv is im2col + GEMM, the channel norm is the
 * backend's row-wise rmsNorm, and the middle attention is the DiT's attention op with one head.
 */
public final class WanVaeDecoder implements LatentDecoder {
    private final VaeConfig config;
    private final Backend backend;
    private final CausalConv conv2;
    private final CausalConv conv1;
    private final ResidualBlock middle0;
    private final AttentionBlock middleAttention;
    private final ResidualBlock middle2;
    private final List<Object> upsamples; // ResidualBlock or Upsample, in checkpoint order
    private final ChannelNorm headNorm;
    private final CausalConv head;
    private final int historySlots;

    private WanVaeDecoder(VaeConfig config, VaeParameters p, Backend backend) {
        this.config = config;
        this.backend = backend;
        History.Slots slots = new History.Slots();
        conv2 = new CausalConv(p, "conv2", slots);
        conv1 = new CausalConv(p, "decoder.conv1", slots);
        middle0 = new ResidualBlock(p, "decoder.middle.0", false, slots);
        middleAttention = new AttentionBlock(p, "decoder.middle.1");
        middle2 = new ResidualBlock(p, "decoder.middle.2", false, slots);
        List<Integer> dims = config.dims();
        List<Object> ups = new ArrayList<>();
        int stages = config.dimMult().size();
        for (int i = 0; i < stages; i++) {
            int in = i == 0 ? dims.get(0) : dims.get(i) / 2, out = dims.get(i + 1);
            for (int r = 0; r <= config.numResBlocks(); r++) {
                ups.add(new ResidualBlock(p, "decoder.upsamples." + ups.size(), in != out, slots));
                in = out;
            }
            if (i < stages - 1) {
                ups.add(new Upsample(p, "decoder.upsamples." + ups.size(), config.temporalUpsample().get(i), slots));
            }
        }
        upsamples = List.copyOf(ups);
        headNorm = new ChannelNorm(p, "decoder.head.0.gamma");
        head = new CausalConv(p, "decoder.head.2", slots);
        historySlots = slots.count();
    }

    /**
     * Loads the decoder strictly from {@code source} (names of {@link VaeKeys}); the weights, widened to F32
     * in the conv layout, are owned by {@code arena}.
     */
    public static WanVaeDecoder load(VaeConfig config, ParameterSource source, Backend backend, Arena arena) {
        return new WanVaeDecoder(config, new VaeParameters(source, VaeKeys.of(config), backend, arena), backend);
    }

    public VaeConfig config() {
        return config;
    }

    @Override
    public String describe() {
        return "vae " + config.name();
    }

    @Override
    public LatentFormat format() {
        return config.format();
    }

    @Override
    public DecodeStream newStream(Arena arena) {
        return new DecodeStream(config.format(), backend, this::decodeFrame, new History(backend, arena, historySlots));
    }

    private Activation decodeFrame(History past, Activation z, boolean streamStart) {
        Backend be = backend;
        Activation x;
        try (z) {
            x = conv2.forward(be, past, z);
        }
        try (Activation in = x) {
            x = conv1.forward(be, past, in);
        }
        x = middle0.forward(be, past, x);
        x = middleAttention.forward(be, x);
        x = middle2.forward(be, past, x);
        for (Object layer : upsamples) {
            x = layer instanceof ResidualBlock r ? r.forward(be, past, x)
                    : ((Upsample) layer).forward(be, past, x, streamStart);
        }
        try (Activation in = x; Activation a = headNorm.forward(be, in, true)) {
            return head.forward(be, past, a);
        }
    }
}
