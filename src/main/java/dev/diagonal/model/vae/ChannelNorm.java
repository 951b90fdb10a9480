package dev.diagonal.model.vae;

import dev.diagonal.backend.Backend;
import dev.diagonal.tensor.Tensor;

/**
 * Wan's RMS_norm over channels, x / max(‖x‖, 1e-12) · sqrt(C) · γ, optionally followed by SiLU. It is the
 * backend's rmsNorm, x / sqrt(mean(x²) + eps) · γ, with eps = 1e-24 / C: the two agree exactly except where
 * ‖x‖ < 1e-12, where Wan divides by 1e-12 and this by sqrt(‖x‖² + 1e-24), both giving ~0.
 */
final class ChannelNorm {
    private final Tensor gamma;

    ChannelNorm(VaeParameters p, String name) {
        gamma = p.vector(name);
    }

    Activation forward(Backend be, Activation x, boolean silu) {
        Activation out = Activation.allocate(be, x.frames(), x.height(), x.width(), x.channels());
        be.rmsNorm(x.rows(), gamma, 1e-24f / x.channels(), out.rows());
        if (silu) {
            be.silu(out.tensor());
        }
        return out;
    }
}
