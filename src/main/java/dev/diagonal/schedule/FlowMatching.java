package dev.diagonal.schedule;

/**
 * Wan's flow matching (rectified flow) with a timestep shift. Network timesteps live on the shifted scale
 * [0, trainSteps]; a timestep t has noise level sigma(t) = t / trainSteps, and a nominal timestep n is warped
 * to the shifted scale by u -> shift·u / (1 + (shift - 1)·u) with u = n / trainSteps.
 *
 * <p>Sigma is continuous here; Self-Forcing looks it up in a 1000-entry table, which gives the same value at
 * every table timestep and differs by under 1e-3 between them.
 */
public record FlowMatching(double shift, int trainSteps) {

    /** Wan2.1 T2V: shift 5, 1000 training steps. */
    public static final FlowMatching WAN = new FlowMatching(5.0, 1000);

    public FlowMatching {
        if (!(shift > 0) || Double.isInfinite(shift)) {
            throw new IllegalArgumentException("timestep shift must be positive and finite, got " + shift);
        }
        if (trainSteps < 1) {
            throw new IllegalArgumentException("trainSteps must be at least 1, got " + trainSteps);
        }
    }

    /** Noise level of a (shifted) network timestep: 0 is clean data, trainSteps is pure noise. */
    public double sigma(double timestep) {
        if (!(timestep >= 0 && timestep <= trainSteps)) {
            throw new IllegalArgumentException("timestep " + timestep + " outside [0, " + trainSteps + "]");
        }
        return timestep / trainSteps;
    }

    /** Warps a nominal timestep through the shift: 1000, 750, 500, 250 become 1000, 937.5, 833.3, 625. */
    public double warp(double nominal) {
        double u = sigma(nominal);
        return trainSteps * shift * u / (1 + (shift - 1) * u);
    }

    /** Warps each nominal timestep of a list. */
    public double[] warp(double... nominal) {
        double[] out = new double[nominal.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = warp(nominal[i]);
        }
        return out;
    }
}
