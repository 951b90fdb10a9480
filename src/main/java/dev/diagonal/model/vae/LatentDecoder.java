package dev.diagonal.model.vae;

import java.lang.foreign.Arena;

/**
 * Turns a stream's latents into video frames: the Wan VAE decoder, or the tiny decoder trained to imitate
 * it. Weights are immutable once loaded; the state of one video lives in its {@link DecodeStream}.
 */
public sealed interface LatentDecoder permits WanVaeDecoder, TinyDecoder {

    /** A short name for logs ("vae diagonal-shapes-64-vae", "tiny ..."). */
    String describe();

    LatentFormat format();

    /** A new stream, starting at the video's first frame; its history is owned by {@code arena}. */
    DecodeStream newStream(Arena arena);
}
