package dev.diagonal.model.dit;

import dev.diagonal.tensor.Tensor;

import java.util.Set;

/** Where a model's parameters come from: a mapped checkpoint, or random weights made in memory. */
public interface ParameterSource {

    /**
     * The parameter called {@code name}; fails with an exception naming the source and the parameter when
     * it is missing, has another shape than {@code shape}, or is not a float dtype.
     */
    Tensor get(String name, long[] shape);

    /** Every parameter name the source holds (after key normalization). */
    Set<String> names();
}
