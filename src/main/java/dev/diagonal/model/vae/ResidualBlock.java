package dev.diagonal.model.vae;

import dev.diagonal.backend.Backend;

/** norm, SiLU, causal conv, norm, SiLU, causal conv, plus the input (through a 1x1x1 conv when widths differ). */
final class ResidualBlock {
    private final ChannelNorm norm1;
    private final CausalConv conv1;
    private final ChannelNorm norm2;
    private final CausalConv conv2;
    private final CausalConv shortcut;

    ResidualBlock(VaeParameters p, String prefix, boolean hasShortcut, History.Slots slots) {
        norm1 = new ChannelNorm(p, prefix + ".residual.0.gamma");
        conv1 = new CausalConv(p, prefix + ".residual.2", slots);
        norm2 = new ChannelNorm(p, prefix + ".residual.3.gamma");
        conv2 = new CausalConv(p, prefix + ".residual.6", slots);
        shortcut = hasShortcut ? new CausalConv(p, prefix + ".shortcut", slots) : null;
    }

    /** Consumes x (closes it) and returns the block's output. */
    Activation forward(Backend be, History past, Activation x) {
        Activation y;
        try (Activation a = norm1.forward(be, x, true)) {
            y = conv1.forward(be, past, a);
        }
        Activation out;
        try (y; Activation b = norm2.forward(be, y, true)) {
            out = conv2.forward(be, past, b);
        }
        try (x) {
            if (shortcut == null) {
                be.add(out.tensor(), x.tensor());
            } else {
                try (Activation s = shortcut.forward(be, past, x)) {
                    be.add(out.tensor(), s.tensor());
                }
            }
        } catch (RuntimeException | Error e) {
            out.close();
            throw e;
        }
        return out;
    }

}
