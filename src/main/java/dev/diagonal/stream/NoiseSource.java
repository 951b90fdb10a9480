package dev.diagonal.stream;

import dev.diagonal.tensor.Tensor;

/**
 * Gaussian noise for the sampler, addressed by (chunk, draw) so a result does not depend on the order noise is
 * asked for: draw 0 is the chunk's starting noise, draw i (1 <= i < steps) the re-noising before step i, and
 * draw = steps the re-noising of a context pass.
 */
public interface NoiseSource {

    /** Fills the host F32 tensor {@code out} with standard normal noise for (chunk, draw). */
    void fill(Tensor out, int chunk, int draw);
}
