package dev.diagonal.video;

/**
 * What a sink writes: frame size in pixels and frames per second.
 *
 * @param width  frame width, 1..16384
 * @param height frame height, 1..16384
 * @param fps    frames per second, 1..240 (Wan models are trained at 16)
 */
public record VideoSpec(int width, int height, int fps) {
    public static final int MAX_SIDE = 16384;

    public VideoSpec {
        if (width < 1 || height < 1 || width > MAX_SIDE || height > MAX_SIDE) {
            throw new IllegalArgumentException("video size " + width + "x" + height + " is out of range 1.." + MAX_SIDE);
        }
        if (fps < 1 || fps > 240) {
            throw new IllegalArgumentException("fps " + fps + " is out of range 1..240");
        }
    }

    /** Bytes of one interleaved RGB8 frame. */
    public int rgbBytes() {
        return Math.multiplyExact(Math.multiplyExact(width, height), 3);
    }
}
