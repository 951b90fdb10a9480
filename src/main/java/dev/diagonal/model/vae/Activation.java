package dev.diagonal.model.vae;

import dev.diagonal.backend.Backend;
import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;

import java.lang.foreign.Arena;

/**
 * A channels-last activation [T, H, W, C] with its own arena, so each layer's output is freed as soon as the
 * next layer has consumed it: at 832x480 one such tensor is 600 MB, and a whole frame's worth would not fit.
 */
record Activation(Tensor tensor, Arena arena) implements AutoCloseable {

    static Activation allocate(Backend backend, long frames, long height, long width, long channels) {
        Arena arena = Arena.ofShared();
        try {
            return new Activation(backend.allocate(arena, DType.F32, frames, height, width, channels), arena);
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    long frames() {
        return tensor.dim(0);
    }

    long height() {
        return tensor.dim(1);
    }

    long width() {
        return tensor.dim(2);
    }

    long channels() {
        return tensor.dim(3);
    }

    /** The tensor as [pixels, channels], for the row-wise ops. */
    Tensor rows() {
        return tensor.reshape(tensor.numel() / channels(), channels());
    }

    @Override
    public void close() {
        arena.close();
    }
}
