package dev.diagonal.cli;

/**
 * One clip made by a {@link ClipGenerator}: what it wrote and where the time went.
 *
 * @param frames        video frames written
 * @param encodeNanos   prompt encoding (or the prompt cache's answer) and the DiT's cross-attention K/V
 * @param warmUpNanos   the generator's warm-up streams, paid by its first clip only (0 after that)
 * @param renderNanos   the DiT stream and the VAE decoder, frames written as they came
 * @param decodeNanos   of {@code renderNanos}, the part spent decoding and writing frames
 */
public record ClipResult(long frames, long encodeNanos, long warmUpNanos, long renderNanos, long decodeNanos) {

    /** Video frames per second of the clip's own work: encoding and rendering, the warm-up left out. */
    public double framesPerSecond() {
        return frames / ((encodeNanos + renderNanos) / 1e9);
    }
}
