package dev.diagonal.cli;

import dev.diagonal.backend.Backend;
import dev.diagonal.backend.cpu.CpuBackend;
import dev.diagonal.io.Weights;
import dev.diagonal.model.dit.ParameterSource;
import dev.diagonal.model.dit.RandomParameters;
import dev.diagonal.model.dit.WanConfig;
import dev.diagonal.tensor.DType;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/** The flags every model-running command shares: which config, which weights, how many threads. */
record ModelOptions(WanConfig config, List<Path> weightFiles, DType randomDtype, long seed, int threads) {

    static final Set<String> VALUED = Set.of("config", "weights", "weight-dtype", "seed", "threads");
    static final Set<String> SWITCHES = Set.of("random-weights");

    static ModelOptions parse(Args a) {
        WanConfig config = WanConfig.preset(a.string("config", "tiny"));
        List<Path> files = new ArrayList<>();
        if (a.has("weights")) {
            if (a.has("random-weights")) {
                throw new Args.UsageException("--weights and --random-weights exclude each other");
            }
            for (String f : a.string("weights", "").split(",")) {
                files.add(Path.of(f.trim()));
            }
        }
        DType dtype = switch (a.string("weight-dtype", "f32").toLowerCase(Locale.ROOT)) {
            case "f32" -> DType.F32;
            case "bf16" -> DType.BF16;
            case "f16" -> DType.F16;
            default -> throw new Args.UsageException("--weight-dtype must be f32, bf16 or f16");
        };
        int threads = a.integer("threads", Runtime.getRuntime().availableProcessors(), 1, 1024);
        return new ModelOptions(config, List.copyOf(files), dtype, a.longValue("seed", 0), threads);
    }

    Backend backend() {
        return new CpuBackend(threads);
    }

    /** The mapped checkpoint, or null when random weights are asked for (the caller closes it). */
    Weights openWeights(PrintStream out) throws IOException {
        if (weightFiles.isEmpty()) {
            return null;
        }
        out.printf("weights: %s (mapped)%n", weightFiles);
        return Weights.open(weightFiles);
    }

    /** The checkpoint's parameters, or random ones made in {@code arena} when there is no checkpoint. */
    ParameterSource parameters(Weights weights, Arena arena, PrintStream out) {
        if (weights != null) {
            return ParameterSource.of(weights);
        }
        out.printf("weights: random %s (seed %d) for config %s; no checkpoint given%n", randomDtype, seed, config.name());
        return RandomParameters.create(config, randomDtype, seed, arena);
    }
}
