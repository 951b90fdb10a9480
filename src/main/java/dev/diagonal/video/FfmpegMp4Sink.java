package dev.diagonal.video;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * MP4 (H.264, yuv420p, CRF 18) through an ffmpeg process fed raw RGB frames on its stdin as they arrive.
 * Chosen over a Java encoder because no maintained pure-Java H.264 encoder is on Maven Central (JCodec's is
 * unmaintained and slow), while ffmpeg's libx264 is the reference; the Y4M sink covers machines without it.
 * Odd sizes are padded by one pixel, which 4:2:0 needs.
 */
public final class FfmpegMp4Sink implements FrameSink {
    private final VideoSpec spec;
    private final PartialOutput file;
    private final Process process;
    private final OutputStream stdin;
    private final Path log;
    private long frames;
    private boolean finished;

    public FfmpegMp4Sink(Path path, VideoSpec spec, String ffmpeg) throws IOException {
        this.spec = spec;
        this.file = new PartialOutput(path);
        this.log = Files.createTempFile("diagonal-ffmpeg", ".log");
        List<String> cmd = List.of(ffmpeg, "-hide_banner", "-loglevel", "error", "-y",
                "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", spec.width() + "x" + spec.height(),
                "-r", Integer.toString(spec.fps()), "-i", "-",
                "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-c:v", "libx264", "-preset", "medium", "-crf", "18",
                "-pix_fmt", "yuv420p", "-movflags", "+faststart", "-f", "mp4", file.partial().toString());
        try {
            process = new ProcessBuilder(cmd).redirectOutput(log.toFile()).redirectErrorStream(true).start();
        } catch (IOException e) {
            Files.deleteIfExists(log);
            throw new IOException("mp4 output needs ffmpeg, and '" + ffmpeg + "' could not be run (" + e.getMessage()
                    + "); install ffmpeg, pass --ffmpeg PATH, or write .y4m or a PNG directory instead", e);
        }
        stdin = process.getOutputStream();
    }

    /** The ffmpeg on PATH, or null when there is none. */
    public static String findOnPath() {
        String path = System.getenv("PATH");
        if (path == null) {
            return null;
        }
        for (String dir : path.split(java.io.File.pathSeparator)) {
            Path p = Path.of(dir, "ffmpeg");
            if (Files.isExecutable(p)) {
                return p.toString();
            }
        }
        return null;
    }

    @Override
    public VideoSpec spec() {
        return spec;
    }

    @Override
    public void write(byte[] rgb) throws IOException {
        if (finished) {
            throw new IllegalStateException("mp4 sink is finished");
        }
        FrameSink.checkFrame(spec, rgb);
        try {
            stdin.write(rgb);
        } catch (IOException e) {
            throw new IOException("ffmpeg stopped taking frames: " + ffmpegLog(), e);
        }
        frames++;
    }

    @Override
    public long frames() {
        return frames;
    }

    @Override
    public void finish() throws IOException {
        stdin.close();
        int rc;
        try {
            rc = process.waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while ffmpeg finished the file", e);
        }
        if (rc != 0) {
            throw new IOException("ffmpeg exited with " + rc + ": " + ffmpegLog());
        }
        file.commit();
        finished = true;
    }

    @Override
    public void close() throws IOException {
        try {
            if (!finished) {
                process.destroy();
                try {
                    if (!process.waitFor(5, TimeUnit.SECONDS)) {
                        process.destroyForcibly();
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    process.destroyForcibly();
                }
                file.abandon();
            }
        } finally {
            Files.deleteIfExists(log);
        }
    }

    private String ffmpegLog() {
        try {
            String s = Files.readString(log, StandardCharsets.UTF_8).strip();
            return s.isEmpty() ? "(no message)" : s.length() > 2000 ? s.substring(0, 2000) + "..." : s;
        } catch (IOException e) {
            return "(its log could not be read: " + e.getMessage() + ")";
        }
    }
}
