package dev.diagonal.model.dit;

import dev.diagonal.tensor.Tensor;

/**
 * A prompt as the DiT sees it: each block's cross-attention keys and values, [textLen, dim], computed once
 * per prompt and reused by every chunk and step.
 */
public record TextContext(Tensor[] keys, Tensor[] values) {
    public Tensor keys(int layer) {
        return keys[layer];
    }

    public Tensor values(int layer) {
        return values[layer];
    }
}
