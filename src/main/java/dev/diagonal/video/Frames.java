package dev.diagonal.video;

import dev.diagonal.tensor.Tensor;

/** Decoded video tensors to 8-bit pixels. */
public final class Frames {
    private Frames() {
    }

    /**
     * Frame t of video F32 [3, T, H, W] with values in [-1, 1] (clamped first, as Wan does) to interleaved RGB8:
     * v -> round((v + 1) / 2 · 255).
     */
    public static byte[] toRgb(Tensor video, long t, byte[] out) {
        if (video.rank() != 4 || video.dim(0) != 3 || t < 0 || t >= video.dim(1)) {
            throw new IllegalArgumentException("frame " + t + " of " + video + ": expected [3, T, H, W] with t < T");
        }
        long frames = video.dim(1), pixels = video.dim(2) * video.dim(3);
        if (out.length != 3 * pixels) {
            throw new IllegalArgumentException("RGB buffer has " + out.length + " bytes, frame needs " + 3 * pixels);
        }
        for (int c = 0; c < 3; c++) {
            long base = (c * frames + t) * pixels;
            for (int p = 0; p < pixels; p++) {
                out[3 * p + c] = (byte) toByte(video.getFloat(base + p));
            }
        }
        return out;
    }

    /** One value in [-1, 1] to 0..255 (NaN maps to 0). */
    static int toByte(float v) {
        if (!(v > -1f)) {
            return 0;
        }
        if (v >= 1f) {
            return 255;
        }
        return (int) Math.floor((v + 1f) * 127.5f + 0.5f);
    }
}
