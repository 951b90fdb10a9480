package dev.diagonal.cli;

import dev.diagonal.backend.Backend;
import dev.diagonal.io.Weights;
import dev.diagonal.model.dit.ParameterSource;
import dev.diagonal.model.dit.RandomParameters;
import dev.diagonal.model.dit.WanConfig;
import dev.diagonal.model.vae.VaeConfig;
import dev.diagonal.model.vae.VaeKeys;
import dev.diagonal.model.vae.WanVaeDecoder;
import dev.diagonal.tensor.DType;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.Set;

/** Which VAE decoder turns latents into frames: --vae-config and --vae (a checkpoint; random weights otherwise). */
record VaeOptions(VaeConfig config, Path weights, long seed) {
    static final Set<String> VALUED = Set.of("vae", "vae-config");

    static VaeOptions parse(Args a, ModelOptions model) {
        WanConfig dit = model.config();
        long seed = model.seed();
        if (model.bundle() != null && !a.has("vae-config")) {
            return new VaeOptions(model.bundle().vae(), a.has("vae") ? Path.of(a.string("vae", "")) : model.bundle().vaeFile(),
                    seed);
        }
        String preset = a.string("vae-config", dit.textDim() == WanConfig.T2V_1_3B.textDim() ? "wan2.1" : "tiny");
        VaeConfig config = switch (preset) {
            case "wan2.1" -> VaeConfig.WAN_2_1;
            case "tiny" -> VaeConfig.TINY;
            default -> throw new Args.UsageException("--vae-config must be wan2.1 or tiny, got '" + preset + "'");
        };
        if (config.zDim() != dit.outDim()) {
            throw new Args.UsageException("VAE config " + config.name() + " takes " + config.zDim()
                    + " latent channels but DiT config " + dit.name() + " makes " + dit.outDim());
        }
        return new VaeOptions(config, a.has("vae") ? Path.of(a.string("vae", "")) : null, seed);
    }

    /** The mapped checkpoint, or null for random weights (the caller closes it). */
    Weights open(PrintStream out) throws IOException {
        if (weights == null) {
            out.printf("vae: random F32 weights (seed %d) for config %s; no --vae checkpoint given%n", seed, config.name());
            return null;
        }
        out.printf("vae: %s (config %s)%n", weights, config.name());
        Weights w = Weights.open(weights);
        w.notes().forEach(n -> out.println("vae: " + n));
        return w;
    }

    WanVaeDecoder load(Weights w, Backend backend, Arena arena) {
        ParameterSource source = w != null ? decoderSide(w)
                : RandomParameters.create(VaeKeys.of(config), DType.F32, seed, 0, arena);
        return WanVaeDecoder.load(config, source, backend, arena);
    }

    // A whole Wan VAE file also holds the encoder, which decoding does not use.
    private static ParameterSource decoderSide(Weights w) {
        Set<String> names = w.names().stream().filter(VaeKeys::isDecoderKey)
                .collect(java.util.stream.Collectors.toUnmodifiableSet());
        return new ParameterSource() {
            @Override
            public dev.diagonal.tensor.Tensor get(String name, long[] shape) {
                return w.get(name, shape);
            }

            @Override
            public Set<String> names() {
                return names;
            }
        };
    }
}
