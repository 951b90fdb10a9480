package dev.diagonal.stream;

import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;

import java.util.SplittableRandom;

/** Reproducible noise: each (seed, chunk, draw) gets its own generator, so the same seed gives the same video. */
public record SeededNoise(long seed) implements NoiseSource {

    @Override
    public void fill(Tensor out, int chunk, int draw) {
        if (out.dtype() != DType.F32) {
            throw new IllegalArgumentException("noise goes into F32 tensors, got " + out);
        }
        SplittableRandom random = new SplittableRandom(mix(mix(seed, chunk), draw));
        long n = out.numel();
        for (long i = 0; i < n; i++) {
            out.setFloat(i, (float) random.nextGaussian());
        }
    }

    // SplitMix64's finalizer: nearby (seed, chunk, draw) triples give unrelated streams.
    private static long mix(long a, long b) {
        long z = a * 0x9E3779B97F4A7C15L + b;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
