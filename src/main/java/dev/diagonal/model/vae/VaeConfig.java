package dev.diagonal.model.vae;

import java.util.ArrayList;
import java.util.List;

/**
 * The shape of a Wan-family VAE decoder.
 *
 * @param name             a short name for logs and checkpoint metadata
 * @param zDim             latent channels
 * @param baseDim          channels of the last (full-resolution) stage; stage i has baseDim · dimMult[i]
 * @param dimMult          channel multipliers, encoder order (Wan: 1, 2, 4, 4); the decoder walks them backwards
 * @param numResBlocks     residual blocks per encoder stage; the decoder has one more per stage, as Wan's does
 * @param temporalUpsample per upsampling stage (dimMult.size() - 1 of them), whether it also doubles time
 * @param latentMean       per-channel mean of the latent space; decoding starts with z · std + mean
 * @param latentStd        per-channel std of the latent space
 */
public record VaeConfig(String name, int zDim, int baseDim, List<Integer> dimMult, int numResBlocks,
                        List<Boolean> temporalUpsample, List<Float> latentMean, List<Float> latentStd) {

    /** Wan2.1's VAE (Wan2.1_VAE.pth): 8x in space, 4x in time, with its published latent statistics. */
    public static final VaeConfig WAN_2_1 = new VaeConfig("wan2.1", 16, 96, List.of(1, 2, 4, 4), 2,
            List.of(true, true, false),
            List.of(-0.7571f, -0.7089f, -0.9113f, 0.1075f, -0.1745f, 0.9653f, -0.1517f, 1.5508f,
                    0.4134f, -0.0715f, 0.5517f, -0.3632f, -0.1922f, -0.9497f, 0.2503f, -0.2921f),
            List.of(2.8184f, 1.4541f, 2.3275f, 2.6558f, 1.2196f, 1.7708f, 2.6052f, 2.0743f,
                    3.2687f, 2.1526f, 2.8652f, 1.5579f, 1.6382f, 1.1253f, 2.8251f, 1.9160f));

    /** Wan2.1's architecture at base width 4 (the golden tests' size), unit latent statistics. */
    public static final VaeConfig TINY = new VaeConfig("tiny", 16, 4, List.of(1, 2, 4, 4), 2,
            List.of(true, true, false), unit(16, 0f), unit(16, 1f));

    public VaeConfig {
        dimMult = List.copyOf(dimMult);
        temporalUpsample = List.copyOf(temporalUpsample);
        latentMean = List.copyOf(latentMean);
        latentStd = List.copyOf(latentStd);
        if (zDim < 1 || baseDim < 1 || numResBlocks < 0 || dimMult.isEmpty()) {
            throw new IllegalArgumentException("VAE config " + name + ": zDim, baseDim and dimMult must be positive");
        }
        if (temporalUpsample.size() != dimMult.size() - 1) {
            throw new IllegalArgumentException("VAE config " + name + ": temporalUpsample needs " + (dimMult.size() - 1)
                    + " entries (one per upsampling stage), got " + temporalUpsample.size());
        }
        for (int m : dimMult) {
            // Every stage but the last ends in an upsample that halves its channels.
            if (m < 1 || (baseDim * m) % 2 != 0) {
                throw new IllegalArgumentException("VAE config " + name + ": stage widths baseDim·dimMult must be even, got "
                        + baseDim + "·" + m);
            }
        }
        if (latentMean.size() != zDim || latentStd.size() != zDim) {
            throw new IllegalArgumentException("VAE config " + name + ": latentMean and latentStd need " + zDim + " values");
        }
    }

    /** The same architecture with other latent statistics (a checkpoint trained on its own data). */
    public VaeConfig withLatentStats(List<Float> mean, List<Float> std) {
        return new VaeConfig(name, zDim, baseDim, dimMult, numResBlocks, temporalUpsample, mean, std);
    }

    /** Channels entering each decoder stage, then leaving each: [dims[0], ..., dims[stages]] as Wan computes them. */
    public List<Integer> dims() {
        List<Integer> d = new ArrayList<>();
        d.add(baseDim * dimMult.getLast());
        for (int i = dimMult.size() - 1; i >= 0; i--) {
            d.add(baseDim * dimMult.get(i));
        }
        return d;
    }

    /** Spatial upsampling factor (Wan: 8). */
    public int spatialScale() {
        return 1 << (dimMult.size() - 1);
    }

    /** Video frames per latent frame after the first (Wan: 4). */
    public int temporalScale() {
        return 1 << temporalUpsample.stream().filter(b -> b).count();
    }

    /** Video frames a stream of {@code latentFrames} latent frames decodes to: the first gives one. */
    public long videoFrames(long latentFrames) {
        return format().videoFrames(latentFrames);
    }

    /** The latents this decoder takes and the frames it gives. */
    public LatentFormat format() {
        return new LatentFormat(zDim, spatialScale(), temporalScale(), latentMean, latentStd);
    }

    private static List<Float> unit(int n, float v) {
        List<Float> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(v);
        }
        return out;
    }
}
