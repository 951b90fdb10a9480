package dev.diagonal.cli;

import dev.diagonal.backend.Backend;
import dev.diagonal.io.Weights;
import dev.diagonal.model.ModelBundle;
import dev.diagonal.model.dit.ParameterSource;
import dev.diagonal.model.dit.RandomParameters;
import dev.diagonal.model.dit.WanConfig;
import dev.diagonal.model.vae.LatentDecoder;
import dev.diagonal.model.vae.TinyDecoder;
import dev.diagonal.model.vae.TinyDecoderConfig;
import dev.diagonal.model.vae.TinyDecoderKeys;
import dev.diagonal.model.vae.VaeConfig;
import dev.diagonal.model.vae.VaeKeys;
import dev.diagonal.model.vae.WanVaeDecoder;
import dev.diagonal.tensor.DType;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.Set;

/**
 * Which decoder turns latents into frames: --decoder vae|tiny, --vae-config and --vae (a checkpoint; random
 * weights otherwise). The tiny decoder comes from the model directory, or with random weights in the shape
 * {@link TinyDecoderConfig#defaultFor} gives, to measure its speed on a real size. The VAE is the default:
 * the shipped tiny decoder streams about 2x faster end to end but reads worse in eval (over three seeds,
 * held-out colour 71% against 75%, shape 25% against 33%), and the VAE alone streams 22-38 frames/s on two cores.
 *
 * @param tiny        the tiny decoder's config, or null when the VAE decodes
 * @param weights     the chosen decoder's checkpoint, or null for random weights
 */
record VaeOptions(VaeConfig config, TinyDecoderConfig tiny, Path weights, long seed) {
    static final Set<String> VALUED = Set.of("vae", "vae-config", "decoder");

    static VaeOptions parse(Args a, ModelOptions model) {
        ModelBundle bundle = model.bundle();
        boolean fromBundle = bundle != null && !a.has("vae-config");
        String decoder = a.string("decoder", "vae");
        if (!decoder.equals("vae") && !decoder.equals("tiny")) {
            throw new Args.UsageException("--decoder must be vae or tiny, got '" + decoder + "'");
        }
        VaeConfig config = vaeConfig(a, model);
        if (decoder.equals("vae")) {
            Path w = a.has("vae") ? Path.of(a.string("vae", "")) : fromBundle ? bundle.vaeFile() : null;
            return new VaeOptions(config, null, w, model.seed());
        }
        if (a.has("vae")) {
            throw new Args.UsageException("--vae names a VAE checkpoint, which --decoder tiny does not read");
        }
        if (fromBundle) {
            if (bundle.tinyDecoder() == null) {
                throw new Args.UsageException("--decoder tiny: model " + bundle.name() + " (" + bundle.dir()
                        + ") has no tiny decoder (no tiny_decoder entry in its model.json)");
            }
            return new VaeOptions(config, bundle.tinyDecoder(), bundle.tinyDecoderFile(), model.seed());
        }
        return new VaeOptions(config, TinyDecoderConfig.defaultFor(config), null, model.seed());
    }

    private static VaeConfig vaeConfig(Args a, ModelOptions model) {
        WanConfig dit = model.config();
        if (model.bundle() != null && !a.has("vae-config")) {
            return model.bundle().vae();
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
        return config;
    }

    /** The mapped checkpoint, or null for random weights (the caller closes it). */
    Weights open(PrintStream out) throws IOException {
        String what = tiny == null ? "vae" : "decoder: tiny";
        String name = tiny == null ? config.name() : tiny.name() + " " + tiny.widths() + " wide";
        if (weights == null) {
            out.printf("%s: random F32 weights (seed %d) for config %s; no checkpoint given%n", what, seed, name);
            return null;
        }
        out.printf("%s: %s (config %s)%n", what, weights, name);
        Weights w = Weights.open(weights);
        w.notes().forEach(n -> out.println(what + ": " + n));
        return w;
    }

    LatentDecoder load(Weights w, Backend backend, Arena arena) {
        if (tiny != null) {
            ParameterSource source = w != null ? ParameterSource.of(w)
                    : RandomParameters.create(TinyDecoderKeys.of(tiny), DType.F32, seed, 0, arena);
            return TinyDecoder.load(tiny, source, backend, arena);
        }
        ParameterSource source = w != null ? VaeKeys.decoderSide(w)
                : RandomParameters.create(VaeKeys.of(config), DType.F32, seed, 0, arena);
        return WanVaeDecoder.load(config, source, backend, arena);
    }
}
