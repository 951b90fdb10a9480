package dev.diagonal.model.dit;

/** Wan's sinusoidal_embedding_1d: [cos(t·f_i) for i < dim/2, then sin(t·f_i)], f_i = 10000^(-i/(dim/2)). */
public final class TimestepEmbedding {
    private TimestepEmbedding() {
    }

    /** Row f of the result embeds timesteps[f]; computed in double like Wan, returned as float. */
    public static float[] sinusoidal(int dim, double[] timesteps) {
        int half = dim / 2;
        float[] out = new float[timesteps.length * dim];
        for (int f = 0; f < timesteps.length; f++) {
            for (int i = 0; i < half; i++) {
                double angle = timesteps[f] * Math.pow(10000.0, -(double) i / half);
                out[f * dim + i] = (float) Math.cos(angle);
                out[f * dim + half + i] = (float) Math.sin(angle);
            }
        }
        return out;
    }
}
