package dev.diagonal.schedule;

/**
 * How a finished chunk becomes context for the next one: the K/V its tokens leave in the cache.
 */
public sealed interface ContextRule {

    /**
     * Keep the K/V written by the chunk's last denoising step, computed from its partially noisy input:
     * Diagonal Distillation's noisy reuse, no extra network evaluation.
     */
    record Reuse() implements ContextRule {
        @Override
        public String toString() {
            return "reuse";
        }
    }

    /**
     * Run one more pass over the finished chunk, re-noised to {@code timestep} (shifted scale), to overwrite its
     * cache slots: 0 is Self-Forcing's clean cache, 100 the paper's formulation.
     */
    record Reencode(double timestep) implements ContextRule {
        public Reencode {
            if (!(timestep >= 0 && timestep < FlowMatching.WAN.trainSteps())) {
                throw new IllegalArgumentException("context timestep " + timestep + " outside [0, 1000)");
            }
        }

        @Override
        public String toString() {
            return "reencode:" + (timestep == Math.rint(timestep) ? String.valueOf((long) timestep) : String.valueOf(timestep));
        }
    }

    /** The fast default. */
    ContextRule REUSE = new Reuse();

    /** "reuse", "reencode" (timestep 0) or "reencode:T". */
    static ContextRule parse(String spec) {
        String s = spec.trim();
        if (s.equals("reuse")) {
            return REUSE;
        }
        if (s.equals("reencode")) {
            return new Reencode(0);
        }
        if (s.startsWith("reencode:")) {
            try {
                return new Reencode(Double.parseDouble(s.substring("reencode:".length())));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("context rule '" + spec + "': timestep is not a number");
            }
        }
        throw new IllegalArgumentException("unknown context rule '" + spec + "': use reuse, reencode or reencode:T");
    }
}
