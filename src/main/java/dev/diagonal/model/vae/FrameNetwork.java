package dev.diagonal.model.vae;

/** A decoder's network applied to one latent frame, with the stream's history of every causal layer. */
@FunctionalInterface
interface FrameNetwork {
    /**
     * One latent frame (channels-last [1, h, w, zDim], de-normalized) to its video frames [T, H, W, 3];
     * consumes z. {@code streamStart} says it is the video's first latent frame.
     */
    Activation decodeFrame(History past, Activation z, boolean streamStart);
}
