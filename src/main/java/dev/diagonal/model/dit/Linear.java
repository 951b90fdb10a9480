package dev.diagonal.model.dit;

import dev.diagonal.backend.Backend;
import dev.diagonal.tensor.Tensor;

/** A PyTorch Linear: weight [out, in] (any float dtype, usually a mapped view), bias [out] in F32 or null. */
public record Linear(Tensor weight, Tensor bias) {

    public void forward(Backend backend, Tensor x, Tensor out) {
        backend.linear(x, weight, bias, out);
    }

    public long outFeatures() {
        return weight.dim(0);
    }
}
