package dev.diagonal.model.vae;

import dev.diagonal.backend.Backend;

/**
 * The tiny decoder's block: h = SiLU(mix(previous frame, frame)), h = conv(h), out = SiLU(x + h). The
 * 2-frame causal conv is how a frame sees the one before it (TAEHV's memory), at the price of one extra
 * frame's worth of weights rather than a 3D conv everywhere.
 */
final class MemoryBlock {
    private final CausalConv mix;
    private final CausalConv conv;

    MemoryBlock(VaeParameters p, String prefix, History.Slots slots) {
        mix = new CausalConv(p, prefix + ".mix", slots);
        conv = new CausalConv(p, prefix + ".conv", slots);
    }

    /** Consumes x (closes it) and returns the block's output. */
    Activation forward(Backend be, History past, Activation x) {
        Activation out;
        try (Activation h = mix.forward(be, past, x)) {
            be.silu(h.tensor());
            out = conv.forward(be, past, h);
        }
        try (x) {
            be.add(out.tensor(), x.tensor());
            be.silu(out.tensor());
        } catch (RuntimeException | Error e) {
            out.close();
            throw e;
        }
        return out;
    }
}
