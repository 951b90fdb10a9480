package dev.diagonal.model.vae;

import java.util.List;

/**
 * What a latent decoder takes and gives: latent channels and their statistics (decoding starts with
 * z · std + mean), and how many pixels and frames each latent becomes. The Wan VAE and the tiny decoder
 * trained to imitate it share one format.
 *
 * @param spatialScale  video pixels per latent along each side (Wan: 8)
 * @param temporalScale video frames per latent frame after the first, which gives one (Wan: 4)
 */
public record LatentFormat(int zDim, int spatialScale, int temporalScale, List<Float> latentMean,
                           List<Float> latentStd) {

    public LatentFormat {
        latentMean = List.copyOf(latentMean);
        latentStd = List.copyOf(latentStd);
        if (zDim < 1 || spatialScale < 1 || temporalScale < 1) {
            throw new IllegalArgumentException("latent format: zDim and scales must be positive");
        }
        if (latentMean.size() != zDim || latentStd.size() != zDim) {
            throw new IllegalArgumentException("latent format: latentMean and latentStd need " + zDim + " values");
        }
    }

    /** Video frames a stream of {@code latentFrames} latent frames decodes to: the first gives one. */
    public long videoFrames(long latentFrames) {
        return latentFrames == 0 ? 0 : 1 + (latentFrames - 1) * temporalScale;
    }
}
