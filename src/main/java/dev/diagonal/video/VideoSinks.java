package dev.diagonal.video;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.Locale;

/** Picks a sink by format name or by the output's name: "-" and .y4m are Y4M, .mp4 is MP4, anything else PNGs. */
public final class VideoSinks {
    private VideoSinks() {
    }

    /** The format an output name implies: y4m, mp4 or png (a directory). */
    public static String formatOf(String out) {
        String lower = out.toLowerCase(Locale.ROOT);
        if (out.equals("-") || lower.endsWith(".y4m")) {
            return "y4m";
        }
        if (lower.endsWith(".mp4")) {
            return "mp4";
        }
        if (lower.endsWith(".png") || lower.matches(".*\\.[a-z0-9]{2,4}$")) {
            throw new IllegalArgumentException("output '" + out + "': use a .y4m or .mp4 file, '-' for Y4M on stdout, "
                    + "or a directory name (no extension) for PNG frames");
        }
        return "png";
    }

    /**
     * Opens the sink for {@code out}. {@code ffmpeg} is the executable for MP4 (null: look on PATH);
     * {@code stdout} receives Y4M when out is "-".
     */
    public static FrameSink open(String out, VideoSpec spec, String ffmpeg, OutputStream stdout) throws IOException {
        return switch (formatOf(out)) {
            case "y4m" -> out.equals("-") ? Y4mSink.toStream(stdout, spec) : Y4mSink.toFile(Path.of(out), spec);
            case "mp4" -> {
                String exe = ffmpeg != null ? ffmpeg : FfmpegMp4Sink.findOnPath();
                if (exe == null) {
                    throw new IOException("mp4 output needs ffmpeg, which is not on PATH; install it, pass --ffmpeg PATH, "
                            + "or write .y4m or a PNG directory instead");
                }
                yield new FfmpegMp4Sink(Path.of(out), spec, exe);
            }
            default -> new PngSequenceSink(Path.of(out), spec);
        };
    }
}
