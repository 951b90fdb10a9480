package dev.diagonal.stream;

import dev.diagonal.schedule.StepList;
import dev.diagonal.tensor.Tensor;

/**
 * A finished chunk as it leaves the engine.
 *
 * @param index      0-based chunk number
 * @param firstFrame absolute index of its first latent frame
 * @param latents    denoised latents [channels, frames, height, width] on the host; a view of the stream's
 *                   buffer, valid until the stream produces the next chunk (copy it to keep it)
 * @param steps      the step list it was denoised with
 * @param evaluations network evaluations it cost, the context pass included
 * @param nanos      wall time spent on it
 */
public record Chunk(int index, int firstFrame, Tensor latents, StepList steps, int evaluations, long nanos) {

    public int frames() {
        return (int) latents.dim(1);
    }
}
