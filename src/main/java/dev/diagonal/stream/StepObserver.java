package dev.diagonal.stream;

import dev.diagonal.tensor.Tensor;

/** Sees every denoising step's x0 prediction (for tests, previews and debugging); must not keep the tensor. */
@FunctionalInterface
public interface StepObserver {
    StepObserver NONE = (chunk, step, timestep, x0) -> { };

    void onStep(int chunk, int step, double timestep, Tensor x0);
}
