package dev.diagonal.model.dit;

import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;

import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * Random weights for a config, for benchmarks and smoke runs without a checkpoint. Scales keep activations
 * of order one through the blocks: matrices uniform with std 1/sqrt(fan_in), small biases, norm weights near
 * one, modulations with std 1/sqrt(dim) as Wan initializes them. Uniform rather than Gaussian because filling
 * 1.4 billion parameters is the slow part; only the scale matters here.
 */
public final class RandomParameters implements ParameterSource {
    private final Map<String, Tensor> tensors;

    private RandomParameters(Map<String, Tensor> tensors) {
        this.tensors = tensors;
    }

    /** Makes every parameter of {@code config} in {@code dtype} (F32, BF16 or F16), owned by {@code arena}. */
    public static RandomParameters create(WanConfig config, DType dtype, long seed, Arena arena) {
        return create(WanKeys.of(config), dtype, seed, 1 / Math.sqrt(config.dim()), arena);
    }

    /**
     * Random parameters for any key contract (name to shape): the same scale rules, with names ending in
     * "gamma" treated as norm weights (near one) and "modulation" drawn with {@code modulationStd}.
     */
    public static RandomParameters create(Map<String, long[]> keys, DType dtype, long seed, double modulationStd,
                                          Arena arena) {
        if (!dtype.isComputeFloat()) {
            throw new IllegalArgumentException("random weights need a float dtype, got " + dtype);
        }
        Map<String, Tensor> out = new LinkedHashMap<>();
        int index = 0;
        for (Map.Entry<String, long[]> e : keys.entrySet()) {
            Tensor t = Tensor.allocate(arena, dtype, e.getValue());
            fill(t, e.getKey(), modulationStd, seed * 1_000_003L + index++);
            out.put(e.getKey(), t);
        }
        return new RandomParameters(Collections.unmodifiableMap(out));
    }

    /** The tensors by name, e.g. to write them as a checkpoint. */
    public Map<String, Tensor> tensors() {
        return tensors;
    }

    @Override
    public Tensor get(String name, long[] shape) {
        Tensor t = tensors.get(name);
        if (t == null) {
            throw new IllegalArgumentException("random weights have no parameter '" + name + "'");
        }
        if (!Arrays.equals(t.shape(), shape)) {
            throw new IllegalArgumentException("random parameter '" + name + "' is " + t + ", expected " + Arrays.toString(shape));
        }
        return t;
    }

    @Override
    public Set<String> names() {
        return tensors.keySet();
    }

    private static void fill(Tensor t, String name, double modulationStd, long seed) {
        double mean = 0;
        double std;
        if (name.endsWith("modulation")) {
            std = modulationStd;
        } else if (name.endsWith(".bias")) {
            std = 0.02;
        } else if (t.rank() == 1 || name.endsWith("gamma")) {
            mean = 1;
            std = 0.1;
        } else {
            std = 1 / Math.sqrt(t.numel() / t.dim(0));
        }
        double half = std * Math.sqrt(3);
        long n = t.numel();
        int slices = (int) Math.min(64, Math.max(1, n >>> 20));
        double m = mean;
        // Independent slices so big matrices fill on every core; each slice has its own seeded generator.
        IntStream.range(0, slices).parallel().forEach(s -> {
            SplittableRandom r = new SplittableRandom(seed * 64 + s);
            long from = n * s / slices;
            long to = n * (s + 1) / slices;
            for (long i = from; i < to; i++) {
                t.setFloat(i, (float) (m + (2 * r.nextDouble() - 1) * half));
            }
        });
    }
}
