package dev.diagonal.serve;

import java.nio.ByteBuffer;

/**
 * One video frame as a binary WebSocket message: a 12-byte big-endian header (frame index u32, chunk index
 * u32, width u16, height u16) and the frame's interleaved RGB8 pixels. Raw pixels rather than PNG or JPEG: a
 * 64x64 frame is 12 KB, nothing to encode or decode, exact colours (what the pixelated view shows is what the
 * decoder made), and the page writes them straight into a canvas.
 */
public final class FrameMessage {
    public static final int HEADER_BYTES = 12;

    private FrameMessage() {
    }

    public static ByteBuffer encode(long frame, int chunk, int width, int height, byte[] rgb) {
        if (rgb.length != width * height * 3) {
            throw new IllegalArgumentException("frame of " + width + "x" + height + " needs " + width * height * 3
                    + " RGB bytes, got " + rgb.length);
        }
        ByteBuffer b = ByteBuffer.allocate(HEADER_BYTES + rgb.length);
        b.putInt((int) frame).putInt(chunk).putShort((short) width).putShort((short) height).put(rgb);
        return b.flip();
    }
}
