package dev.diagonal.video;

import java.io.IOException;

/**
 * Where decoded frames go, one at a time as they are decoded. {@link #finish()} makes the output complete
 * and visible; {@link #close()} without a finish (an error, an interrupt) removes what was written, so a
 * failed run never leaves a file that looks like a finished video.
 */
public interface FrameSink extends AutoCloseable {

    VideoSpec spec();

    /** Writes one frame: interleaved RGB8, {@code spec().rgbBytes()} bytes, rows top to bottom. */
    void write(byte[] rgb) throws IOException;

    /** Frames written so far. */
    long frames();

    /** Completes the output (flush, trailer, rename into place). */
    void finish() throws IOException;

    /** Releases the sink; if it was not finished, deletes the partial output. */
    @Override
    void close() throws IOException;

    /** Checks a frame's length against the spec. */
    static void checkFrame(VideoSpec spec, byte[] rgb) {
        if (rgb == null || rgb.length != spec.rgbBytes()) {
            throw new IllegalArgumentException("frame has " + (rgb == null ? "no" : rgb.length) + " bytes, expected "
                    + spec.rgbBytes() + " for " + spec.width() + "x" + spec.height() + " RGB8");
        }
    }
}
