package dev.diagonal.backend.cpu;

import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Device;
import dev.diagonal.tensor.Tensor;

/** Argument validation shared by the ops; every message names the op and the shapes involved. */
final class Checks {
    private Checks() {
    }

    static IllegalArgumentException fail(String op, String message) {
        return new IllegalArgumentException(op + ": " + message);
    }

    static void notNull(String op, String name, Tensor t) {
        if (t == null) {
            throw fail(op, name + " is null");
        }
    }

    /** A host F32 tensor (activations are always F32). */
    static void f32(String op, String name, Tensor t) {
        host(op, name, t);
        if (t.dtype() != DType.F32) {
            throw fail(op, name + " must be F32, got " + t);
        }
    }

    /** A host tensor of F32, BF16 or F16 (parameters that the op widens). */
    static void computeFloat(String op, String name, Tensor t) {
        host(op, name, t);
        if (!t.dtype().isComputeFloat()) {
            throw fail(op, name + " must be F32, BF16 or F16, got " + t);
        }
    }

    static void host(String op, String name, Tensor t) {
        notNull(op, name, t);
        if (t.device() != Device.CPU) {
            throw fail(op, name + " is not a host tensor: " + t);
        }
    }

    /** The last dimension, as an int (rank >= 1 required). */
    static int cols(String op, String name, Tensor t) {
        if (t.rank() < 1) {
            throw fail(op, name + " must have rank >= 1, got " + t);
        }
        return toInt(op, name + " last dimension", t.dim(-1));
    }

    /** The product of all but the last dimension. */
    static long rows(Tensor t) {
        long[] shape = t.shape();
        return Tensor.numel(java.util.Arrays.copyOf(shape, Math.max(0, shape.length - 1)));
    }

    static int toInt(String op, String what, long v) {
        if (v > Integer.MAX_VALUE - 64) {
            throw fail(op, what + " " + v + " is too large");
        }
        return (int) v;
    }

    static void sameShape(String op, String a, Tensor x, String b, Tensor y) {
        if (!java.util.Arrays.equals(x.shape(), y.shape())) {
            throw fail(op, a + " " + x + " and " + b + " " + y + " must have the same shape");
        }
    }

    /** A 1-D parameter (or any tensor of exactly n elements), e.g. a norm weight. */
    static void vectorOf(String op, String name, Tensor t, long n) {
        computeFloat(op, name, t);
        if (t.numel() != n) {
            throw fail(op, name + " " + t + " must have " + n + " elements");
        }
    }
}
