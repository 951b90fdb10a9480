package dev.diagonal.model.vae;

import dev.diagonal.backend.Backend;
import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;

import java.lang.foreign.Arena;

/**
 * Decodes one video's latents chunk by chunk, carrying every causal conv's past frames between calls, so
 * any split of the latents into calls gives the same frames as decoding them all at once. The first latent
 * frame of the stream gives one video frame, each later one {@link LatentFormat#temporalScale()} frames.
 */
public final class DecodeStream {
    private final LatentFormat format;
    private final Backend backend;
    private final FrameNetwork network;
    private final History past;
    private long latentFrames;
    private long latentHeight = -1, latentWidth = -1;

    DecodeStream(LatentFormat format, Backend backend, FrameNetwork network, History past) {
        this.format = format;
        this.backend = backend;
        this.network = network;
        this.past = past;
    }

    /** Latent frames decoded so far. */
    public long latentFrames() {
        return latentFrames;
    }

    /** Video frames that decoding {@code frames} more latent frames will give. */
    public long videoFramesFor(long frames) {
        return format.videoFrames(latentFrames + frames) - format.videoFrames(latentFrames);
    }

    /**
     * Decodes the next latents (host F32 [zDim, F, h, w], normalized as the DiT produces them) into video frames
     * F32 [3, T, h·s, w·s] allocated in {@code arena}, T = {@link #videoFramesFor}(F). Values are the decoder's
     * raw output, about [-1, 1]; clamp when converting to pixels.
     */
    public Tensor decode(Tensor latents, Arena arena) {
        LatentFormat c = format;
        if (latents.rank() != 4 || latents.dim(0) != c.zDim() || latents.dim(1) < 1 || !latents.dtype().isComputeFloat()) {
            throw new IllegalArgumentException("decode: latents " + latents + " must be float [" + c.zDim() + ", F, h, w]");
        }
        long h = latents.dim(2), w = latents.dim(3);
        if (latentHeight >= 0 && (h != latentHeight || w != latentWidth)) {
            throw new IllegalArgumentException("decode: latents are " + h + "x" + w + " but this stream started at "
                    + latentHeight + "x" + latentWidth);
        }
        latentHeight = h;
        latentWidth = w;
        Backend be = backend;
        int s = c.spatialScale();
        long frames = latents.dim(1);
        Tensor video = Tensor.allocate(arena, DType.F32, 3, videoFramesFor(frames), h * s, w * s);
        long at = 0;
        for (long f = 0; f < frames; f++) {
            boolean start = latentFrames == 0;
            try (Activation out = network.decodeFrame(past, denormalized(be, latents, f), start)) {
                copyChannelsFirst(be, out, video, at);
                at += out.frames();
            }
            latentFrames++;
        }
        return video;
    }

    // z·std + mean, channels moved last: [1, h, w, zDim].
    private Activation denormalized(Backend be, Tensor latents, long f) {
        LatentFormat c = format;
        long frames = latents.dim(1), h = latents.dim(2), w = latents.dim(3), pixels = h * w;
        Activation z = Activation.allocate(be, 1, h, w, c.zDim());
        try (Arena tmp = Arena.ofConfined()) {
            Tensor host = Tensor.allocate(tmp, DType.F32, 1, h, w, c.zDim());
            for (int ch = 0; ch < c.zDim(); ch++) {
                float std = c.latentStd().get(ch), mean = c.latentMean().get(ch);
                long src = (ch * frames + f) * pixels;
                for (long p = 0; p < pixels; p++) {
                    host.setFloat(p * c.zDim() + ch, latents.getFloat(src + p) * std + mean);
                }
            }
            be.copy(host, z.tensor());
        } catch (RuntimeException | Error e) {
            z.close();
            throw e;
        }
        return z;
    }

    // [T, H, W, 3] into video [3, total, H, W] at frame `at`; frames on a device come to the host first.
    private static void copyChannelsFirst(Backend be, Activation out, Tensor video, long at) {
        try (Arena tmp = Arena.ofConfined()) {
            Tensor src = out.tensor();
            if (src.device() != video.device()) {
                Tensor host = Tensor.allocate(tmp, src.dtype(), src.shape());
                be.copy(src, host);
                src = host;
            }
            copyChannelsFirst(src, out, video, at);
        }
    }

    private static void copyChannelsFirst(Tensor src, Activation out, Tensor video, long at) {
        long frames = out.frames(), pixels = out.height() * out.width(), total = video.dim(1);
        for (long f = 0; f < frames; f++) {
            for (int ch = 0; ch < 3; ch++) {
                long dst = (ch * total + at + f) * pixels;
                long from = f * pixels * 3 + ch;
                for (long p = 0; p < pixels; p++) {
                    video.setFloat(dst + p, src.getFloat(from + 3 * p));
                }
            }
        }
    }
}
