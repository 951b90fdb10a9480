package dev.diagonal.model.vae;

import dev.diagonal.backend.Backend;
import dev.diagonal.tensor.Tensor;

/**
 * Wan's Resample for decoding: optionally doubles time, then 2x nearest in space and a 3x3 conv that halves
 * the channels.
 *
 * <p>Doubling time (Wan's upsample3d) leaves the stream's first frame alone and turns every later frame into
 * two: the two halves of the output channels of a causal (3,1,1) conv. Its history starts from zeros and
 * never holds the first frame, exactly as Wan's frame cache does (its 'Rep' marker).
 */
final class Upsample {
    private final Tensor timeA, timeB, timeBiasA, timeBiasB; // null without temporal upsampling
    private final int history;
    private final Tensor spatial, spatialBias;

    Upsample(VaeParameters p, String prefix, boolean temporal, History.Slots slots) {
        if (temporal) {
            Tensor w = p.conv(prefix + ".time_conv.weight");
            Tensor b = p.vector(prefix + ".time_conv.bias");
            long c = w.dim(0) / 2;
            timeA = w.rows(0, c);
            timeB = w.rows(c, c);
            timeBiasA = b.rows(0, c);
            timeBiasB = b.rows(c, c);
            history = slots.next();
        } else {
            timeA = timeB = timeBiasA = timeBiasB = null;
            history = -1;
        }
        spatial = p.conv(prefix + ".resample.1.weight");
        spatialBias = p.vector(prefix + ".resample.1.bias");
    }

    /** Consumes x; {@code streamStart} says x begins with the stream's first frame. */
    Activation forward(Backend be, History past, Activation x, boolean streamStart) {
        Activation frames = timeA == null ? x : doubleTime(be, past, x, streamStart);
        try (frames; Activation up = Activation.allocate(be, frames.frames(), 2 * frames.height(),
                2 * frames.width(), frames.channels())) {
            be.upsampleNearest2x(frames.tensor(), up.tensor());
            Activation out = Activation.allocate(be, up.frames(), up.height(), up.width(), spatial.dim(0));
            be.conv3d(up.tensor(), spatial, spatialBias, out.tensor());
            return out;
        }
    }

    private Activation doubleTime(Backend be, History past, Activation x, boolean streamStart) {
        int head = streamStart ? 1 : 0;
        long rest = x.frames() - head;
        if (rest == 0) {
            return x;
        }
        Tensor prev = past.frames(history, 2, x.height(), x.width(), x.channels());
        try (x; Activation joined = Activation.allocate(be, 2 + rest, x.height(), x.width(), x.channels())) {
            Activation out = Activation.allocate(be, head + 2 * rest, x.height(), x.width(), x.channels());
            be.copyRows(x.tensor(), 0, out.tensor(), 0, head);
            be.copyRows(prev, 0, joined.tensor(), 0, 2);
            be.copyRows(x.tensor(), head, joined.tensor(), 2, rest);
            for (long i = 0; i < rest; i++) {
                Tensor window = joined.tensor().rows(i, 3);
                be.conv3d(window, timeA, timeBiasA, out.tensor().rows(head + 2 * i, 1));
                be.conv3d(window, timeB, timeBiasB, out.tensor().rows(head + 2 * i + 1, 1));
            }
            be.copyRows(joined.tensor(), rest, prev, 0, 2);
            return out;
        }
    }
}
