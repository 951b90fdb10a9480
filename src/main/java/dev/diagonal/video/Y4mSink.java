package dev.diagonal.video;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * YUV4MPEG2: raw frames with a one-line header, playable by ffmpeg/mpv/VLC and pipeable ("-" = stdout).
 * Chroma is 4:4:4 (C444): no chroma subsampling, so the only loss is the RGB to YUV rounding; colours are
 * BT.601 limited range (Y 16..235, Cb/Cr 16..240), what players assume for untagged SD video.
 */
public final class Y4mSink implements FrameSink {
    private final VideoSpec spec;
    private final OutputStream out;
    private final PartialOutput file; // null when writing to a stream we do not own
    private final byte[] planes;
    private long frames;
    private boolean finished, closed;

    private Y4mSink(VideoSpec spec, OutputStream out, PartialOutput file) throws IOException {
        this.spec = spec;
        this.out = out;
        this.file = file;
        this.planes = new byte[spec.rgbBytes()];
        out.write(header(spec).getBytes(StandardCharsets.US_ASCII));
    }

    /** A .y4m file, written as {@code path.partial} until {@link #finish()}. */
    public static Y4mSink toFile(Path path, VideoSpec spec) throws IOException {
        PartialOutput file = new PartialOutput(path);
        OutputStream os = new BufferedOutputStream(Files.newOutputStream(file.partial()), 1 << 20);
        try {
            return new Y4mSink(spec, os, file);
        } catch (IOException | RuntimeException e) {
            os.close();
            file.abandon();
            throw e;
        }
    }

    /** Frames to a stream (e.g. stdout piped into a player); the stream is flushed but not closed. */
    public static Y4mSink toStream(OutputStream out, VideoSpec spec) throws IOException {
        return new Y4mSink(spec, out, null);
    }

    static String header(VideoSpec spec) {
        return "YUV4MPEG2 W" + spec.width() + " H" + spec.height() + " F" + spec.fps() + ":1 Ip A1:1 C444 XCOLORRANGE=LIMITED\n";
    }

    @Override
    public VideoSpec spec() {
        return spec;
    }

    @Override
    public void write(byte[] rgb) throws IOException {
        if (finished || closed) {
            throw new IllegalStateException("y4m sink is " + (closed ? "closed" : "finished"));
        }
        FrameSink.checkFrame(spec, rgb);
        toYuv444(rgb, planes);
        out.write("FRAME\n".getBytes(StandardCharsets.US_ASCII));
        out.write(planes);
        frames++;
    }

    @Override
    public long frames() {
        return frames;
    }

    @Override
    public void finish() throws IOException {
        out.flush();
        if (file != null) {
            out.close();
            file.commit();
        }
        finished = true;
    }

    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        if (file != null && !finished) {
            try {
                out.close();
            } finally {
                file.abandon();
            }
        } else if (file == null) {
            out.flush();
        }
    }

    /** Interleaved RGB8 to planar Y, Cb, Cr (BT.601, limited range), each width·height bytes. */
    static void toYuv444(byte[] rgb, byte[] planes) {
        int n = rgb.length / 3;
        for (int i = 0; i < n; i++) {
            int r = rgb[3 * i] & 0xff, g = rgb[3 * i + 1] & 0xff, b = rgb[3 * i + 2] & 0xff;
            planes[i] = (byte) clamp(16 + 0.256788 * r + 0.504129 * g + 0.097906 * b, 16, 235);
            planes[n + i] = (byte) clamp(128 - 0.148223 * r - 0.290993 * g + 0.439216 * b, 16, 240);
            planes[2 * n + i] = (byte) clamp(128 + 0.439216 * r - 0.367788 * g - 0.071427 * b, 16, 240);
        }
    }

    private static int clamp(double v, int lo, int hi) {
        return (int) Math.max(lo, Math.min(hi, Math.round(v)));
    }
}
