package dev.diagonal.backend.cpu;

/**
 * Wan's {@code sinusoidal_embedding_1d(dim, positions)}: for half = dim/2 and angle = pos · 10000^(-i/half),
 * each row is [cos(angle_0..half-1), sin(angle_0..half-1)], computed in double and rounded once to float.
 */
public final class Sinusoidal {
    private Sinusoidal() {
    }

    /** Row-major [positions.length, dim]; dim must be even. */
    public static float[] embed(int dim, double... positions) {
        if (dim <= 0 || dim % 2 != 0) {
            throw new IllegalArgumentException("sinusoidal embedding: dim must be even and positive, got " + dim);
        }
        int half = dim / 2;
        double[] freq = new double[half];
        for (int i = 0; i < half; i++) {
            freq[i] = Math.pow(10000.0, -(double) i / half);
        }
        float[] out = new float[positions.length * dim];
        for (int p = 0; p < positions.length; p++) {
            for (int i = 0; i < half; i++) {
                double angle = positions[p] * freq[i];
                out[p * dim + i] = (float) Math.cos(angle);
                out[p * dim + half + i] = (float) Math.sin(angle);
            }
        }
        return out;
    }
}
