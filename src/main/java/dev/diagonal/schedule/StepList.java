package dev.diagonal.schedule;

import java.util.Arrays;

/**
 * The network timesteps one chunk is denoised at, on the shifted scale: strictly decreasing, starting at the
 * maximum (pure noise), ending above zero. The last one is the chunk's exit step.
 */
public record StepList(double[] timesteps) {

    public StepList {
        timesteps = timesteps.clone();
        if (timesteps.length == 0) {
            throw new IllegalArgumentException("a step list needs at least one timestep");
        }
        if (timesteps[0] != FlowMatching.WAN.trainSteps()) {
            throw new IllegalArgumentException("a step list must start at " + FlowMatching.WAN.trainSteps()
                    + " (pure noise), got " + Arrays.toString(timesteps));
        }
        for (int i = 1; i < timesteps.length; i++) {
            if (!(timesteps[i] < timesteps[i - 1])) {
                throw new IllegalArgumentException("step list must be strictly decreasing: " + Arrays.toString(timesteps));
            }
        }
        if (!(timesteps[timesteps.length - 1] > 0)) {
            throw new IllegalArgumentException("the last timestep must be above 0: " + Arrays.toString(timesteps));
        }
    }

    public static StepList of(double... timesteps) {
        return new StepList(timesteps);
    }

    /** Number of denoising steps (network evaluations without a context pass). */
    public int size() {
        return timesteps.length;
    }

    public double get(int i) {
        return timesteps[i];
    }

    @Override
    public double[] timesteps() {
        return timesteps.clone();
    }

    /**
     * This list cut to n steps by keeping its first n-1 timesteps and its exit step: how the diagonal
     * schedule derives later chunks' lists (4-3-2: [1000, 933, 733, 357] -> [1000, 933, 357] -> [1000, 357]),
     * so every chunk leaves at the same noise level. A single step is the first timestep alone: a one-step
     * sampler must start from pure noise.
     */
    public StepList truncate(int n) {
        if (n < 1 || n > timesteps.length) {
            throw new IllegalArgumentException("cannot cut " + timesteps.length + " steps to " + n);
        }
        double[] out = Arrays.copyOf(timesteps, n);
        if (n > 1) {
            out[n - 1] = timesteps[timesteps.length - 1];
        }
        return new StepList(out);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof StepList s && Arrays.equals(timesteps, s.timesteps);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(timesteps);
    }

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder("[");
        for (int i = 0; i < timesteps.length; i++) {
            b.append(i == 0 ? "" : ", ").append(String.format("%.2f", timesteps[i]).replaceAll("\\.?0+$", ""));
        }
        return b.append(']').toString();
    }
}
