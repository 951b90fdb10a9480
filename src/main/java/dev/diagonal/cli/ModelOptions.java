package dev.diagonal.cli;

import dev.diagonal.backend.Backend;
import dev.diagonal.backend.cpu.CpuBackend;
import dev.diagonal.backend.cuda.CudaBackend;
import dev.diagonal.io.Weights;
import dev.diagonal.model.Family;
import dev.diagonal.model.LoraMerge;
import dev.diagonal.model.ModelBundle;
import dev.diagonal.model.dit.ParameterSource;
import dev.diagonal.model.dit.RandomParameters;
import dev.diagonal.model.dit.WanConfig;
import dev.diagonal.tensor.DType;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The flags every model-running command shares: which model (a model directory, or a config with weights or
 * random weights), which device runs it, how many threads.
 *
 * @param bundle     the model directory in use, or null when a bare config was asked for
 * @param cudaDevice the GPU to run on (--device cuda:N), or -1 for the CPU backend
 * @param family     the checkpoint family (--family), or null: its config, nested state dict and stream defaults
 * @param lora       a LoRA adapter to merge into the weights (--lora, with a family that has one), or null
 */
record ModelOptions(WanConfig config, List<Path> weightFiles, DType randomDtype, long seed, int threads,
                    ModelBundle bundle, int cudaDevice, Family family, Path lora) {

    static final Set<String> VALUED = Set.of("model", "config", "weights", "weight-dtype", "seed", "threads", "device",
            "family", "lora");
    static final Set<String> SWITCHES = Set.of("random-weights");

    /**
     * A bundle is used when --model names one, or when none of --config, --weights, --random-weights is
     * given and {@code defaultModel} (the launcher's weights/ directory) holds one.
     */
    static ModelOptions parse(Args a, Path defaultModel) throws IOException {
        boolean bare = a.has("config") || a.has("weights") || a.has("random-weights") || a.has("family");
        if (a.has("model") && bare) {
            throw new Args.UsageException("--model excludes --config, --weights, --random-weights and --family");
        }
        ModelBundle bundle = a.has("model") ? ModelBundle.load(Path.of(a.string("model", "")))
                : !bare && defaultModel != null && Files.isRegularFile(defaultModel.resolve(ModelBundle.FILE))
                ? ModelBundle.load(defaultModel) : null;
        int threads = a.integer("threads", Runtime.getRuntime().availableProcessors(), 1, 1024);
        if (bundle != null) {
            return new ModelOptions(bundle.dit(), List.of(bundle.ditFile()), DType.F32, a.longValue("seed", 0), threads,
                    bundle, cudaDevice(a), null, null);
        }
        return parse(a);
    }

    /** A bare config: --config (default tiny, or the --family's) with --weights, or random weights. */
    static ModelOptions parse(Args a) {
        Family family = a.has("family") ? Family.preset(a.string("family", "")) : null;
        WanConfig config = WanConfig.preset(a.string("config", family != null ? family.config() : "tiny"));
        Path lora = a.has("lora") ? Path.of(a.string("lora", "")) : null;
        if (lora != null && (family == null || family.lora() == null)) {
            throw new Args.UsageException("--lora needs a --family whose release uses a LoRA (longlive, diagonal): "
                    + "its rank and alpha come from the family's config");
        }
        if (lora != null && !a.has("weights")) {
            throw new Args.UsageException("--lora merges into a base checkpoint: give it with --weights");
        }
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
        return new ModelOptions(config, List.copyOf(files), dtype, a.longValue("seed", 0), threads, null, cudaDevice(a),
                family, lora);
    }

    /** --device cpu (default), cuda (GPU 0) or cuda:N: the GPU index, or -1 for the CPU. */
    static int cudaDevice(Args a) {
        String d = a.string("device", "cpu").trim().toLowerCase(Locale.ROOT);
        if (d.equals("cpu")) {
            return -1;
        }
        if (d.equals("cuda")) {
            return 0;
        }
        if (d.startsWith("cuda:")) {
            try {
                int n = Integer.parseInt(d.substring(5));
                if (n >= 0) {
                    return n;
                }
            } catch (NumberFormatException e) {
                // falls through to the usage error
            }
        }
        throw new Args.UsageException("--device must be cpu, cuda or cuda:N (N >= 0), got '" + a.string("device", "") + "'");
    }

    /** The same model on a backend of {@code n} threads (the rest go to a decoder thread of their own). */
    ModelOptions withThreads(int n) {
        return new ModelOptions(config, weightFiles, randomDtype, seed, n, bundle, cudaDevice, family, lora);
    }

    /**
     * The backend asked for. A GPU that cannot be opened (no driver, no such device, no cuBLAS) fails here,
     * before the command has read weights or written anything.
     */
    Backend backend() {
        return cudaDevice < 0 ? new CpuBackend(threads) : CudaBackend.open(cudaDevice);
    }

    /** The mapped checkpoint, or null when random weights are asked for (the caller closes it). */
    Weights openWeights(PrintStream out) throws IOException {
        if (weightFiles.isEmpty()) {
            return null;
        }
        out.printf("weights: %s (mapped)%n", bundle != null ? "model " + bundle.name() + " from " + bundle.dir() : weightFiles);
        if (family != null) {
            out.println("family: " + family.describe());
            if (family.lora() != null && lora == null) {
                out.println("family: warning: " + family.name() + " releases a LoRA on top of its base; without --lora "
                        + "the base runs alone");
            }
        }
        long t0 = System.nanoTime();
        Weights w = Weights.open(weightFiles, family == null ? List.of() : family.stateDicts());
        w.notes().forEach(n -> out.println("weights: " + n));
        out.printf("weights: %d tensors indexed in %.1f ms%n", w.names().size(), (System.nanoTime() - t0) / 1e6);
        return w;
    }

    /**
     * The checkpoint's parameters (with the --lora adapter merged into copies owned by {@code arena}), or random
     * ones made in {@code arena} when there is no checkpoint.
     */
    ParameterSource parameters(Weights weights, Arena arena, PrintStream out) throws IOException {
        if (weights != null && lora != null) {
            long t0 = System.nanoTime();
            Family.Lora spec = family.lora();
            try (Weights adapter = Weights.open(List.of(lora), List.of(spec.stateDict()))) {
                adapter.notes().forEach(n -> out.println("lora: " + n));
                ParameterSource merged = LoraMerge.merge(ParameterSource.of(weights), adapter, spec.rank(), spec.scale(), arena);
                out.printf("lora: %s merged (rank %d, alpha %s, scale %s) in %.1f s%n", lora, spec.rank(), spec.alpha(),
                        spec.scale(), (System.nanoTime() - t0) / 1e9);
                return merged;
            } // the adapter is unmapped here: merged weights are copies
        }
        if (weights != null) {
            return ParameterSource.of(weights);
        }
        out.printf("weights: random %s (seed %d) for config %s; no checkpoint given%n", randomDtype, seed, config.name());
        return RandomParameters.create(config, randomDtype, seed, arena);
    }
}
