package dev.diagonal.bench;

import dev.diagonal.backend.cpu.CpuBackend;
import dev.diagonal.model.ModelBundle;
import dev.diagonal.model.dit.RandomParameters;
import dev.diagonal.model.vae.DecodeStream;
import dev.diagonal.model.vae.VaeConfig;
import dev.diagonal.model.vae.VaeKeys;
import dev.diagonal.model.vae.WanVaeDecoder;
import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.Random;

/**
 * ms per latent frame of the VAE decoder with random weights, streaming one latent frame per call as the
 * generate command does. The first latent frame (one video frame) is reported apart from the steady state
 * (each later latent frame gives 4 video frames); the best of the later frames is the figure to compare.
 *
 * <p>Args: config (tiny | wan2.1 | a model directory, whose VAE config is used) latentHeight latentWidth
 * latentFrames [threads]. Compare with tools/bench/torch_vae.py at the same arguments (tiny, wan2.1).
 * The default model: {@code weights 16 16 20 2}.
 */
public final class VaeDecodeProbe {
    private VaeDecodeProbe() {
    }

    public static void main(String[] args) throws IOException {
        VaeConfig config = switch (args[0]) {
            case "wan2.1" -> VaeConfig.WAN_2_1;
            case "tiny" -> VaeConfig.TINY;
            default -> ModelBundle.load(Path.of(args[0])).vae();
        };
        int h = Integer.parseInt(args[1]), w = Integer.parseInt(args[2]), frames = Integer.parseInt(args[3]);
        int threads = args.length > 4 ? Integer.parseInt(args[4]) : Runtime.getRuntime().availableProcessors();
        try (CpuBackend be = new CpuBackend(threads); Arena arena = Arena.ofShared()) {
            System.out.println(be.describe());
            WanVaeDecoder decoder = WanVaeDecoder.load(config,
                    RandomParameters.create(VaeKeys.of(config), DType.F32, 1, 0, arena), be, arena);
            Tensor z = Tensor.allocate(arena, DType.F32, config.zDim(), 1, h, w);
            Random rnd = new Random(2);
            for (long i = 0; i < z.numel(); i++) {
                z.setFloat(i, (float) rnd.nextGaussian());
            }
            DecodeStream stream = decoder.newStream(arena);
            double best = Double.MAX_VALUE;
            for (int f = 0; f < frames; f++) {
                try (Arena out = Arena.ofShared()) {
                    long t0 = System.nanoTime();
                    Tensor video = stream.decode(z, out);
                    double ms = (System.nanoTime() - t0) / 1e6;
                    System.out.printf("%s %dx%d latent frame %d -> %d video frames of %dx%d: %.1f ms%n", config.name(), h, w,
                            f, video.dim(1), video.dim(3), video.dim(2), ms);
                    if (f > 0) {
                        best = Math.min(best, ms);
                    }
                }
            }
            System.out.printf("%s %dx%d: best %.1f ms per later latent frame (%d video frames), %d threads%n",
                    config.name(), h, w, best, config.videoFrames(2) - 1, threads);
        }
    }
}
