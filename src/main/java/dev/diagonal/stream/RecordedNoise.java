package dev.diagonal.stream;

import dev.diagonal.tensor.Tensor;

import java.util.Arrays;
import java.util.function.Function;

/**
 * Noise replayed from recorded tensors named {@code noise.c{chunk}.d{draw}}, so a stream can reproduce a run
 * of another implementation (the PyTorch reference's goldens) draw for draw.
 */
public record RecordedNoise(Function<String, Tensor> lookup) implements NoiseSource {

    @Override
    public void fill(Tensor out, int chunk, int draw) {
        String name = "noise.c" + chunk + ".d" + draw;
        Tensor t = lookup.apply(name);
        if (t == null) {
            throw new IllegalStateException("no recorded noise '" + name + "'");
        }
        if (!Arrays.equals(t.shape(), out.shape())) {
            throw new IllegalArgumentException("recorded noise '" + name + "' is " + t + ", the stream needs " + out);
        }
        out.copyFrom(t);
    }
}
