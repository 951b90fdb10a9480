package dev.diagonal.bench;

import dev.diagonal.backend.cpu.CpuBackend;
import dev.diagonal.io.Weights;
import dev.diagonal.model.ModelBundle;
import dev.diagonal.model.dit.ParameterSource;
import dev.diagonal.model.dit.RandomParameters;
import dev.diagonal.model.vae.DecodeStream;
import dev.diagonal.model.vae.LatentDecoder;
import dev.diagonal.model.vae.TinyDecoder;
import dev.diagonal.model.vae.TinyDecoderConfig;
import dev.diagonal.model.vae.TinyDecoderKeys;
import dev.diagonal.model.vae.VaeConfig;
import dev.diagonal.model.vae.VaeKeys;
import dev.diagonal.model.vae.WanVaeDecoder;
import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

/**
 * ms per latent frame of the VAE decoder and the tiny decoder side by side, streaming one
 * latent frame per call as generate does. The two alternate frame by frame, so both see the same machine
 * load; the first latent frame of each stream (one video frame) is left out, and the medians of the later
 * ones, and their ratio, are the figures to compare.
 *
 * <p>Args: config (tiny | wan2.1 | a model directory: its VAE and tiny decoder, trained weights) latentHeight
 * latentWidth latentFrames [threads]. A config name gets random weights, and a tiny decoder in TAEHV's shape
 * ({@link TinyDecoderConfig#defaultFor}). The default model: {@code weights 16 16 40 2}; Wan2.1 at 832x480:
 * {@code wan2.1 60 104 4 2}. Compare the VAE with tools/bench/torch_vae.py at the same arguments.
 */
public final class DecoderProbe {
    private DecoderProbe() {
    }

    public static void main(String[] args) throws IOException {
        boolean named = args[0].equals("wan2.1") || args[0].equals("tiny");
        ModelBundle b = named ? null : ModelBundle.load(Path.of(args[0]));
        VaeConfig vae = named ? (args[0].equals("tiny") ? VaeConfig.TINY : VaeConfig.WAN_2_1) : b.vae();
        TinyDecoderConfig tiny = b != null && b.tinyDecoder() != null ? b.tinyDecoder() : TinyDecoderConfig.defaultFor(vae);
        int h = Integer.parseInt(args[1]), w = Integer.parseInt(args[2]), frames = Integer.parseInt(args[3]);
        int threads = args.length > 4 ? Integer.parseInt(args[4]) : Runtime.getRuntime().availableProcessors();
        try (CpuBackend be = new CpuBackend(threads); Arena arena = Arena.ofShared();
             Weights vaeWeights = b == null ? null : Weights.open(b.vaeFile());
             Weights tinyWeights = b == null || b.tinyDecoderFile() == null ? null : Weights.open(b.tinyDecoderFile())) {
            System.out.println(be.describe());
            LatentDecoder[] decoders = {
                    WanVaeDecoder.load(vae, vaeWeights != null ? ParameterSource.of(vaeWeights)
                            : RandomParameters.create(VaeKeys.of(vae), DType.F32, 1, 0, arena), be, arena),
                    TinyDecoder.load(tiny, tinyWeights != null ? ParameterSource.of(tinyWeights)
                            : RandomParameters.create(TinyDecoderKeys.of(tiny), DType.F32, 1, 0, arena), be, arena)};
            Tensor z = Tensor.allocate(arena, DType.F32, vae.zDim(), 1, h, w);
            Random rnd = new Random(2);
            for (long i = 0; i < z.numel(); i++) {
                z.setFloat(i, (float) rnd.nextGaussian());
            }
            DecodeStream[] streams = {decoders[0].newStream(arena), decoders[1].newStream(arena)};
            double[][] ms = new double[2][frames - 1];
            for (int f = 0; f < frames; f++) {
                for (int d = 0; d < 2; d++) {
                    try (Arena out = Arena.ofShared()) {
                        long t0 = System.nanoTime();
                        streams[d].decode(z, out);
                        if (f > 0) {
                            ms[d][f - 1] = (System.nanoTime() - t0) / 1e6;
                        }
                    }
                }
            }
            double vaeMs = median(ms[0]), tinyMs = median(ms[1]);
            int perLatent = vae.temporalScale();
            System.out.printf("%s at %dx%d latents, %d threads, median of %d later latent frames (%d video frames each):%n",
                    vae.name(), h, w, threads, frames - 1, perLatent);
            System.out.printf("  %-40s %8.1f ms  %7.1f video frames/s%n", decoders[0].describe(), vaeMs, perLatent * 1e3 / vaeMs);
            System.out.printf("  %-40s %8.1f ms  %7.1f video frames/s%n", decoders[1].describe() + " " + tiny.widths(),
                    tinyMs, perLatent * 1e3 / tinyMs);
            System.out.printf("  tiny decoder %.1fx faster%n", vaeMs / tinyMs);
        }
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }
}
