package dev.diagonal.model.dit;

/**
 * Wan's sinusoidal_embedding_1d(dim, positions): with half = dim/2 and angle = t · 10000^(-i/half), each row is
 * [cos(angle_0..half-1), sin(angle_0..half-1)], computed in double like Wan and rounded once to float.
 */
public final class TimestepEmbedding {
    private TimestepEmbedding() {
    }

    /** Row-major [timesteps.length, dim]; dim must be even. */
    public static float[] sinusoidal(int dim, double... timesteps) {
        if (dim <= 0 || dim % 2 != 0) {
            throw new IllegalArgumentException("sinusoidal embedding: dim must be even and positive, got " + dim);
        }
        int half = dim / 2;
        double[] freq = new double[half];
        for (int i = 0; i < half; i++) {
            freq[i] = Math.pow(10000.0, -(double) i / half);
        }
        float[] out = new float[timesteps.length * dim];
        for (int f = 0; f < timesteps.length; f++) {
            for (int i = 0; i < half; i++) {
                double angle = timesteps[f] * freq[i];
                out[f * dim + i] = (float) Math.cos(angle);
                out[f * dim + half + i] = (float) Math.sin(angle);
            }
        }
        return out;
    }
}
