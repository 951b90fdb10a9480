package dev.diagonal.model.dit;

import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;

import java.lang.foreign.Arena;

/**
 * Wan's 3D rotary frequencies as a table of (cos, sin) pairs, F32 [maxPositions, headDim/2, 2]: the first
 * cT = c - 2(c/3) frequency columns belong to the frame axis, the next c/3 to rows, the last c/3 to columns
 * (c = headDim/2), each axis with its own frequency ladder as Wan's rope_params builds it. Computed in
 * double, as Wan does, and rounded once.
 */
public final class RopeTable {
    /** Wan's table length: positions 0..1023 per axis. */
    public static final int MAX_POSITIONS = 1024;
    private static final double THETA = 10000.0;

    private RopeTable() {
    }

    /** Wan's table (1024 positions), on the host, owned by {@code arena}. */
    public static Tensor create(Arena arena, int headDim) {
        return create(arena, headDim, MAX_POSITIONS);
    }

    /** A table of {@code positions} rows (tests use short ones to reach the edges). */
    public static Tensor create(Arena arena, int headDim, int positions) {
        if (headDim < 2 || headDim % 2 != 0 || positions < 1) {
            throw new IllegalArgumentException("RoPE table needs an even head dim and positions >= 1, got "
                    + headDim + " and " + positions);
        }
        int c = headDim / 2;
        int cHW = c / 3;
        int cT = c - 2 * cHW;
        double[] inv = new double[c];
        fill(inv, 0, cT, headDim - 4 * (headDim / 6));
        fill(inv, cT, cHW, 2 * (headDim / 6));
        fill(inv, cT + cHW, cHW, 2 * (headDim / 6));
        Tensor t = Tensor.allocate(arena, DType.F32, positions, c, 2);
        for (int p = 0; p < positions; p++) {
            for (int j = 0; j < c; j++) {
                double angle = p * inv[j];
                t.setFloat(((long) p * c + j) * 2, (float) Math.cos(angle));
                t.setFloat(((long) p * c + j) * 2 + 1, (float) Math.sin(angle));
            }
        }
        return t;
    }

    // rope_params(n, dim): inverse frequencies 1 / theta^(2i/dim) for i < dim/2.
    private static void fill(double[] inv, int from, int count, int axisDim) {
        for (int i = 0; i < count; i++) {
            inv[from + i] = 1.0 / Math.pow(THETA, (2.0 * i) / axisDim);
        }
    }
}
