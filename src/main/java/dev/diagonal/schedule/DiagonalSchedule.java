package dev.diagonal.schedule;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Which step list each chunk is denoised with. The lists are given for the first chunks; the last list
 * repeats for every later chunk. Step counts never grow along the chunks: early chunks build appearance,
 * later ones inherit it through the KV cache and need fewer steps (Diagonal Distillation).
 */
public record DiagonalSchedule(String name, List<StepList> lists) {

    /** The exit timestep of the paper's lists: the shifted value of nominal 100 (357.14). */
    public static final double EXIT = FlowMatching.WAN.warp(100);

    /** The configuration the paper settles on and both released code bases use: 4, 3, then 2 steps. */
    public static final DiagonalSchedule DIAGONAL_4_3_2 =
            stepped("diagonal-4-3-2", StepList.of(1000, 933, 733, EXIT), 4, 3, 2);

    /**
     * The paper's figure: 5, 4, 3, then 2 steps. Its timesteps are not published; we use the warped nominal
     * list [1000, 800, 600, 400, 100] cut the same way as 4-3-2 (first n-1 steps plus the exit step).
     */
    public static final DiagonalSchedule DIAGONAL_5_4_3_2 =
            stepped("diagonal-5-4-3-2", StepList.of(FlowMatching.WAN.warp(1000, 800, 600, 400, 100)), 5, 4, 3, 2);

    /** Self-Forcing's uniform 4-step list, nominal [1000, 750, 500, 250], on every chunk. */
    public static final DiagonalSchedule UNIFORM_4 =
            uniform("uniform-4", StepList.of(FlowMatching.WAN.warp(1000, 750, 500, 250)));

    public DiagonalSchedule {
        lists = List.copyOf(lists);
        if (lists.isEmpty()) {
            throw new IllegalArgumentException("schedule '" + name + "' has no step lists");
        }
        for (int i = 1; i < lists.size(); i++) {
            if (lists.get(i).size() > lists.get(i - 1).size()) {
                throw new IllegalArgumentException("schedule '" + name + "': chunk " + i + " has more steps ("
                        + lists.get(i).size() + ") than chunk " + (i - 1) + " (" + lists.get(i - 1).size() + ")");
            }
        }
    }

    /** The same steps on every chunk. */
    public static DiagonalSchedule uniform(String name, StepList steps) {
        return new DiagonalSchedule(name, List.of(steps));
    }

    /** First chunk uses {@code full}; chunk i uses it cut to counts[i] steps; the last count repeats. */
    public static DiagonalSchedule stepped(String name, StepList full, int... counts) {
        List<StepList> out = new ArrayList<>();
        for (int c : counts) {
            out.add(full.truncate(c));
        }
        return new DiagonalSchedule(name, out);
    }

    /** The step list of chunk {@code chunk} (0-based). */
    public StepList steps(int chunk) {
        if (chunk < 0) {
            throw new IllegalArgumentException("negative chunk index " + chunk);
        }
        return lists.get(Math.min(chunk, lists.size() - 1));
    }

    /** Denoising network evaluations over the first {@code chunks} chunks (context passes not counted). */
    public int denoisingEvaluations(int chunks) {
        int n = 0;
        for (int k = 0; k < chunks; k++) {
            n += steps(k).size();
        }
        return n;
    }

    /** The named presets, for the CLI. */
    public static List<DiagonalSchedule> presets() {
        return List.of(DIAGONAL_4_3_2, DIAGONAL_5_4_3_2, UNIFORM_4);
    }

    /**
     * A preset by name, or a custom schedule written as step lists separated by ';', timesteps by ','
     * (shifted scale), e.g. "1000,933,357;1000,357".
     */
    public static DiagonalSchedule parse(String spec) {
        String s = spec.trim().toLowerCase(Locale.ROOT);
        for (DiagonalSchedule p : presets()) {
            if (p.name.equals(s)) {
                return p;
            }
        }
        if (!s.matches("[0-9.,;\\s]+")) {
            throw new IllegalArgumentException("unknown schedule '" + spec + "': use one of "
                    + presets().stream().map(DiagonalSchedule::name).toList()
                    + " or step lists like 1000,933,357;1000,357");
        }
        List<StepList> lists = new ArrayList<>();
        for (String part : s.split(";")) {
            String[] ts = part.trim().split("\\s*,\\s*");
            double[] v = new double[ts.length];
            for (int i = 0; i < ts.length; i++) {
                try {
                    v[i] = Double.parseDouble(ts[i]);
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("schedule '" + spec + "': '" + ts[i] + "' is not a timestep");
                }
            }
            lists.add(new StepList(v));
        }
        return new DiagonalSchedule("custom", lists);
    }

    @Override
    public String toString() {
        return name + " " + lists;
    }
}
