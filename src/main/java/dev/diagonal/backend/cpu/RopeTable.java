package dev.diagonal.backend.cpu;

import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;

import java.lang.foreign.Arena;

/**
 * Builds the (cos, sin) table that {@code rope3d} reads, the way Wan builds its {@code freqs}: three
 * {@code rope_params(maxPositions, dim, theta)} blocks, for frames (dim = headDim - 4·(headDim/6)), rows and
 * columns (dim = 2·(headDim/6) each), concatenated along the frequency axis. Angles are computed in double.
 */
public final class RopeTable {
    private RopeTable() {
    }

    /** F32 [maxPositions, headDim/2, 2] of (cos, sin); headDim must be even and positive. */
    public static Tensor create(Arena arena, int headDim, int maxPositions, double theta) {
        if (headDim <= 0 || headDim % 2 != 0) {
            throw new IllegalArgumentException("rope table: head dim must be even and positive, got " + headDim);
        }
        if (maxPositions <= 0) {
            throw new IllegalArgumentException("rope table: maxPositions must be positive, got " + maxPositions);
        }
        int sixth = headDim / 6;
        int[] dims = {headDim - 4 * sixth, 2 * sixth, 2 * sixth};
        int c = headDim / 2;
        double[] inv = new double[c];
        int at = 0;
        for (int dim : dims) {
            // rope_params: 1 / theta^(arange(0, dim, 2) / dim)
            for (int i = 0; i < dim; i += 2) {
                inv[at++] = 1.0 / Math.pow(theta, (double) i / dim);
            }
        }
        float[] values = new float[maxPositions * c * 2];
        for (int pos = 0; pos < maxPositions; pos++) {
            for (int j = 0; j < c; j++) {
                double angle = pos * inv[j];
                values[(pos * c + j) * 2] = (float) Math.cos(angle);
                values[(pos * c + j) * 2 + 1] = (float) Math.sin(angle);
            }
        }
        Tensor t = Tensor.allocate(arena, DType.F32, maxPositions, c, 2);
        java.lang.foreign.MemorySegment.copy(values, 0, t.data(),
                java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, 0, values.length);
        return t;
    }
}
