package dev.diagonal.model.dit;

import dev.diagonal.io.Weights;
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

    /** A mapped checkpoint's parameters (F32, F16 or BF16), by their normalized names. */
    static ParameterSource of(Weights weights) {
        return new ParameterSource() {
            @Override
            public Tensor get(String name, long[] shape) {
                return weights.get(name, shape);
            }

            @Override
            public Set<String> names() {
                return weights.names();
            }
        };
    }
}
