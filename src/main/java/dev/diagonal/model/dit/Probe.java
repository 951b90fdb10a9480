package dev.diagonal.model.dit;

import dev.diagonal.tensor.Tensor;

/** Sees named intermediates of a forward pass (golden tests compare them); must not keep the tensor. */
@FunctionalInterface
interface Probe {
    Probe NONE = (name, t) -> { };

    void at(String name, Tensor value);
}
