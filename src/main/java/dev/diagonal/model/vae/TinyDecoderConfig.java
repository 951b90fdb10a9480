package dev.diagonal.model.vae;

import java.util.List;

/**
 * The shape of a tiny latent decoder (tools/reference/tiny_decoder.py): per resolution level, from the
 * latent grid up, its width and how many memory blocks it runs; between levels a 2x upsample in space,
 * doubling time where {@code temporalUpsample} says. It decodes the latents of the VAE it was trained to
 * imitate, so it takes that VAE's latent statistics.
 *
 * @param widths           channels per level; {@code widths.size() - 1} upsamples, so 2^that in space
 * @param blocks           memory blocks per level
 * @param temporalUpsample per upsample, whether it also doubles time
 */
public record TinyDecoderConfig(String name, int zDim, List<Integer> widths, List<Integer> blocks,
                                List<Boolean> temporalUpsample, List<Float> latentMean, List<Float> latentStd) {

    /** The golden tests' size: 4 latent channels, 4x in space, 2x in time, unit latent statistics. */
    public static final TinyDecoderConfig TINY = new TinyDecoderConfig("tiny", 4, List.of(6, 5, 3),
            List.of(2, 1, 1), List.of(true, false), List.of(0f, 0f, 0f, 0f), List.of(1f, 1f, 1f, 1f));

    public TinyDecoderConfig {
        widths = List.copyOf(widths);
        blocks = List.copyOf(blocks);
        temporalUpsample = List.copyOf(temporalUpsample);
        if (widths.isEmpty() || blocks.size() != widths.size() || temporalUpsample.size() != widths.size() - 1) {
            throw new IllegalArgumentException("tiny decoder config " + name + ": needs a width and a block count per level"
                    + " and a temporal flag per upsample, got " + widths.size() + ", " + blocks.size() + " and "
                    + temporalUpsample.size());
        }
        if (widths.stream().anyMatch(w -> w < 1) || blocks.stream().anyMatch(b -> b < 0)) {
            throw new IllegalArgumentException("tiny decoder config " + name + ": widths must be positive, block counts >= 0");
        }
        // Checked again by LatentFormat, with the same message shape as the VAE's.
        format(zDim, widths, temporalUpsample, latentMean, latentStd);
    }

    /** The decoder that imitates {@code vae}: its latent channels and statistics. */
    public static TinyDecoderConfig imitating(VaeConfig vae, List<Integer> widths, List<Integer> blocks,
                                              List<Boolean> temporalUpsample) {
        return new TinyDecoderConfig(vae.name() + "-tiny", vae.zDim(), widths, blocks, temporalUpsample,
                vae.latentMean(), vae.latentStd());
    }

    /**
     * The shape to use for a Wan-family VAE (4 levels, 8x in space) without a trained tiny decoder: TAEHV's
     * decoder widths (256, 128, 64, 64) and memory blocks (3, 3, 3, 0), scaled by the VAE's width against
     * Wan2.1's, with the VAE's temporal upsampling. With random weights it measures a real decoder's cost.
     */
    public static TinyDecoderConfig defaultFor(VaeConfig vae) {
        if (vae.dimMult().size() != 4) {
            throw new IllegalArgumentException("no default tiny decoder shape for VAE config " + vae.name() + " ("
                    + vae.dimMult().size() + " levels; the default is TAEHV's, for Wan's 4): use a model directory"
                    + " with a trained tiny decoder");
        }
        double scale = vae.baseDim() / (double) VaeConfig.WAN_2_1.baseDim();
        List<Integer> widths = java.util.stream.Stream.of(256, 128, 64, 64)
                .map(w -> Math.max(4, (int) Math.round(w * scale))).toList();
        return imitating(vae, widths, List.of(3, 3, 3, 0), vae.temporalUpsample());
    }

    /** The same architecture with other latent statistics. */
    public TinyDecoderConfig withLatentStats(List<Float> mean, List<Float> std) {
        return new TinyDecoderConfig(name, zDim, widths, blocks, temporalUpsample, mean, std);
    }

    public LatentFormat format() {
        return format(zDim, widths, temporalUpsample, latentMean, latentStd);
    }

    private static LatentFormat format(int zDim, List<Integer> widths, List<Boolean> temporal, List<Float> mean,
                                       List<Float> std) {
        return new LatentFormat(zDim, 1 << (widths.size() - 1), 1 << temporal.stream().filter(b -> b).count(),
                mean, std);
    }
}
