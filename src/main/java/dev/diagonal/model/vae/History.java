package dev.diagonal.model.vae;

import dev.diagonal.backend.Backend;
import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;

import java.lang.foreign.Arena;
import java.util.Arrays;

/**
 * A decode stream's memory of the past: for each causal conv (and each time upsampler) the last input frames
 * it saw, zero before the first. Owned by the stream's arena.
 */
final class History {
    /** Hands out history slot numbers while a decoder is built. */
    static final class Slots {
        private int next;

        int next() {
            return next++;
        }

        int count() {
            return next;
        }
    }

    private final Backend backend;
    private final Arena arena;
    private final Tensor[] frames;

    History(Backend backend, Arena arena, int slots) {
        this.backend = backend;
        this.arena = arena;
        this.frames = new Tensor[slots];
    }

    /** Slot {@code slot}'s frames [count, height, width, channels], zeros on first use. */
    Tensor frames(int slot, int count, long height, long width, long channels) {
        Tensor t = frames[slot];
        long[] shape = {count, height, width, channels};
        if (t == null) {
            t = backend.allocate(arena, DType.F32, shape);
            frames[slot] = t;
        } else if (!Arrays.equals(t.shape(), shape)) {
            throw new IllegalStateException("decode stream history " + slot + " is " + t + ", now asked for "
                    + Arrays.toString(shape) + ": the latent size changed within a stream");
        }
        return t;
    }
}
