package dev.diagonal.model.vae;

import dev.diagonal.backend.Backend;
import dev.diagonal.tensor.Tensor;

/**
 * Wan's CausalConv3d: zero padding in space, and in time the kt - 1 frames before the input, which are the
 * previous call's last input frames (zeros at the start of a stream). Carrying them in the stream is what
 * makes decoding chunk by chunk equal to decoding the whole sequence.
 */
final class CausalConv {
    private final Tensor weight; // [Cout, kt, kh, kw, Cin]
    private final Tensor bias;
    private final int history;   // slot in the stream's history, or -1 for kt = 1

    CausalConv(VaeParameters p, String prefix, History.Slots slots) {
        weight = p.conv(prefix + ".weight");
        bias = p.vector(prefix + ".bias");
        history = kt() > 1 ? slots.next() : -1;
    }

    int kt() {
        return (int) weight.dim(1);
    }

    int outChannels() {
        return (int) weight.dim(0);
    }

    /** out = conv(past ++ x); the past becomes the last kt - 1 frames of (past ++ x). */
    Activation forward(Backend be, History past, Activation x) {
        Activation out = Activation.allocate(be, x.frames(), x.height(), x.width(), outChannels());
        if (history < 0) {
            be.conv3d(x.tensor(), weight, bias, out.tensor());
            return out;
        }
        int k = kt() - 1;
        Tensor prev = past.frames(history, k, x.height(), x.width(), x.channels());
        try (Activation joined = Activation.allocate(be, k + x.frames(), x.height(), x.width(), x.channels())) {
            be.copyRows(prev, 0, joined.tensor(), 0, k);
            be.copyRows(x.tensor(), 0, joined.tensor(), k, x.frames());
            be.conv3d(joined.tensor(), weight, bias, out.tensor());
            be.copyRows(joined.tensor(), x.frames(), prev, 0, k);
        } catch (RuntimeException | Error e) {
            out.close();
            throw e;
        }
        return out;
    }
}
