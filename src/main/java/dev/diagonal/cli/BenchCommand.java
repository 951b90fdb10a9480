package dev.diagonal.cli;

import dev.diagonal.model.dit.TextContext;
import dev.diagonal.model.dit.WanDiT;
import dev.diagonal.schedule.ContextRule;
import dev.diagonal.schedule.DiagonalSchedule;
import dev.diagonal.stream.Chunk;
import dev.diagonal.stream.ChunkStream;
import dev.diagonal.stream.SeededNoise;
import dev.diagonal.stream.StepObserver;
import dev.diagonal.stream.StreamSettings;

import java.io.IOException;
import java.io.PrintStream;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

/**
 * {@code diagonal bench}: whole streams timed side by side in one process, Diagonal Distillation's schedule
 * with noisy KV reuse against Self-Forcing's uniform 4 steps with a clean re-encode, so the ratio is measured,
 * not assumed. Medians over interleaved rounds after warm-up rounds.
 */
final class BenchCommand {
    static final Set<String> VALUED = GenerateLatentsCommand.union(ModelOptions.VALUED, StreamOptions.VALUED, Set.of("repeat"));
    static final Set<String> SWITCHES = GenerateLatentsCommand.union(ModelOptions.SWITCHES, Set.of("help"));

    private final PrintStream out;

    BenchCommand(PrintStream out) {
        this.out = out;
    }

    int run(String[] argv) throws IOException {
        Args a = new Args("bench", argv, VALUED, SWITCHES);
        if (a.has("help")) {
            out.println("usage: diagonal bench [generate-latents' model and stream flags] [--repeat N (default 5)]");
            return 0;
        }
        ModelOptions model = ModelOptions.parse(a);
        StreamSettings base = StreamOptions.parse(a, model);
        int repeat = a.integer("repeat", 5, 1, 1000);
        List<StreamSettings> variants = List.of(
                with(base, base.schedule(), base.contextRule()),
                with(base, DiagonalSchedule.UNIFORM_4, new ContextRule.Reencode(0)));
        try (LoadedModel m = LoadedModel.open(model, a, out)) {
            out.printf("config %s, %d chunks x %d latent frames at %dx%d, medians of %d interleaved rounds after warm-up%n",
                    model.config().name(), base.chunks(), base.chunkFrames(), base.latentHeight(), base.latentWidth(), repeat);
            out.printf("%-34s %5s %12s %12s %14s %16s%n", "schedule / context", "nfe", "stream ms", "ms/chunk",
                    "first chunk ms", "latent frames/s");
            int n = variants.size();
            double[][] totals = new double[n][repeat];
            double[][] firsts = new double[n][repeat];
            int[] nfe = new int[n];
            // Rounds alternate the variants so each sees the same JIT and cache state; warm-up rounds first.
            int warmup = Math.max(3, repeat);
            for (int r = -warmup; r < repeat; r++) {
                for (int v = 0; v < n; v++) {
                    long[] stats = runOnce(m.dit(), m.text(), variants.get(v), model.seed());
                    if (r >= 0) {
                        totals[v][r] = stats[0] / 1e6;
                        firsts[v][r] = stats[1] / 1e6;
                        nfe[v] = (int) stats[2];
                    }
                }
            }
            double[] medians = new double[n];
            for (int v = 0; v < n; v++) {
                StreamSettings s = variants.get(v);
                medians[v] = median(totals[v]);
                out.printf("%-34s %5d %12.1f %12.1f %14.1f %16.2f%n", s.schedule().name() + " / " + s.contextRule(),
                        nfe[v], medians[v], medians[v] / s.chunks(), median(firsts[v]), s.totalFrames() / (medians[v] / 1e3));
            }
            out.printf("speed-up of %s over %s: %.2fx%n", variants.get(0).schedule().name() + "/" + variants.get(0).contextRule(),
                    "uniform-4/reencode:0", medians[1] / medians[0]);
        }
        return 0;
    }

    // {total nanos, first chunk nanos, network evaluations} of one whole stream.
    private static long[] runOnce(WanDiT dit, TextContext text, StreamSettings s, long seed) {
        long[] stats = new long[3];
        try (ChunkStream stream = new ChunkStream(dit, text, s, new SeededNoise(seed), StepObserver.NONE)) {
            while (stream.hasNext()) {
                Chunk c = stream.next();
                stats[0] += c.nanos();
                stats[1] = c.index() == 0 ? c.nanos() : stats[1];
                stats[2] += c.evaluations();
            }
        }
        return stats;
    }

    private static StreamSettings with(StreamSettings s, DiagonalSchedule schedule, ContextRule rule) {
        return new StreamSettings(s.chunks(), s.chunkFrames(), s.latentHeight(), s.latentWidth(), schedule, rule,
                s.windowFrames(), s.sinkFrames());
    }

    private static double median(double[] xs) {
        double[] c = xs.clone();
        Arrays.sort(c);
        return c.length % 2 == 1 ? c[c.length / 2] : (c[c.length / 2 - 1] + c[c.length / 2]) / 2;
    }
}
