package dev.diagonal.video;

import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Frame conversion, the three sinks, and what each leaves behind on success and on failure. */
class VideoSinksTest {
    private static final VideoSpec SPEC = new VideoSpec(5, 3, 16);

    @TempDir
    Path dir;

    @Test
    void pixelConversionClampsAndRounds() {
        assertEquals(0, Frames.toByte(-1f));
        assertEquals(0, Frames.toByte(-7f));
        assertEquals(0, Frames.toByte(Float.NaN));
        assertEquals(255, Frames.toByte(1f));
        assertEquals(255, Frames.toByte(3f));
        assertEquals(128, Frames.toByte(0f)); // 127.5 rounds half up
        assertEquals(64, Frames.toByte(-0.5f)); // 63.75
        for (int b = 0; b < 256; b++) { // every byte level survives the trip through [-1, 1]
            assertEquals(b, Frames.toByte(b / 127.5f - 1f));
        }
    }

    @Test
    void tensorFramesBecomeInterleavedRgb() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor video = Tensor.allocate(arena, DType.F32, 3, 2, 1, 2); // [3, T=2, H=1, W=2]
            float[] v = {-1, 1, 0, 0.5f, /* G */ 1, -1, -1, -1, /* B */ 0, 0, 1, 1};
            for (int i = 0; i < v.length; i++) {
                video.setFloat(i, v[i]);
            }
            byte[] rgb = Frames.toRgb(video, 1, new byte[6]);
            assertArrayEquals(new byte[] {(byte) 128, 0, (byte) 255, (byte) 191, 0, (byte) 255}, rgb);
            assertThrows(IllegalArgumentException.class, () -> Frames.toRgb(video, 2, new byte[6]));
            assertThrows(IllegalArgumentException.class, () -> Frames.toRgb(video, 0, new byte[5]));
        }
    }

    @Test
    void y4mFileHasHeaderFramesAndRoundTripsColour() throws IOException {
        Path out = dir.resolve("v.y4m");
        byte[][] frames = {random(1), random(2), random(3)};
        try (FrameSink sink = VideoSinks.open(out.toString(), SPEC, null, null)) {
            for (byte[] f : frames) {
                sink.write(f);
                assertTrue(Files.exists(dir.resolve("v.y4m.partial")), "written as it arrives, under .partial");
            }
            sink.finish();
        }
        assertFalse(Files.exists(dir.resolve("v.y4m.partial")));
        byte[] bytes = Files.readAllBytes(out);
        String header = "YUV4MPEG2 W5 H3 F16:1 Ip A1:1 C444 XCOLORRANGE=LIMITED\n";
        assertEquals(header, new String(bytes, 0, header.length(), StandardCharsets.US_ASCII));
        int frameBytes = 6 + 3 * 15;
        assertEquals(header.length() + 3 * frameBytes, bytes.length);
        for (int f = 0; f < 3; f++) {
            int at = header.length() + f * frameBytes;
            assertEquals("FRAME\n", new String(bytes, at, 6, StandardCharsets.US_ASCII));
            byte[] planes = Arrays.copyOfRange(bytes, at + 6, at + frameBytes);
            byte[] back = fromYuv444(planes);
            for (int i = 0; i < back.length; i++) { // limited range keeps 220 luma levels of 256
                assertTrue(Math.abs((back[i] & 0xff) - (frames[f][i] & 0xff)) <= 3, "frame " + f + " byte " + i);
            }
        }
    }

    @Test
    void y4mToStdoutStreamsWithoutClosingIt() throws IOException {
        ByteArrayOutputStream os = new ByteArrayOutputStream();
        try (FrameSink sink = VideoSinks.open("-", SPEC, null, os)) {
            sink.write(random(4));
            sink.finish();
        }
        assertEquals(Y4mSink.header(SPEC).length() + 6 + 45, os.size());
    }

    @Test
    void unfinishedOutputsAreRemoved() throws IOException {
        for (String name : new String[] {"broken.y4m", "frames"}) {
            Path out = dir.resolve(name);
            try (FrameSink sink = VideoSinks.open(out.toString(), SPEC, null, null)) {
                sink.write(random(5));
                // no finish(): the run failed
            }
            assertFalse(Files.exists(out), name);
            assertFalse(Files.exists(dir.resolve(name + ".partial")), name + ".partial");
        }
    }

    @Test
    void pngFramesDecodeToTheSamePixels() throws IOException {
        Path out = dir.resolve("frames");
        byte[] a = random(6), b = random(7);
        try (FrameSink sink = VideoSinks.open(out.toString(), SPEC, null, null)) {
            sink.write(a);
            sink.write(b);
            sink.finish();
        }
        assertEquals(2, Files.list(out).count());
        BufferedImage img = ImageIO.read(out.resolve("frame_00001.png").toFile());
        assertEquals(5, img.getWidth());
        assertEquals(3, img.getHeight());
        for (int i = 0; i < 15; i++) {
            int rgb = img.getRGB(i % 5, i / 5);
            assertEquals(b[3 * i] & 0xff, rgb >> 16 & 0xff);
            assertEquals(b[3 * i + 1] & 0xff, rgb >> 8 & 0xff);
            assertEquals(b[3 * i + 2] & 0xff, rgb & 0xff);
        }
    }

    @Test
    void mp4ThroughFfmpegWhenInstalled() throws IOException {
        String ffmpeg = FfmpegMp4Sink.findOnPath();
        assumeTrue(ffmpeg != null, "ffmpeg is not on PATH");
        Path out = dir.resolve("v.mp4");
        try (FrameSink sink = VideoSinks.open(out.toString(), SPEC, ffmpeg, null)) { // odd size: padded to 6x4
            for (int i = 0; i < 8; i++) {
                sink.write(random(10 + i));
            }
            sink.finish();
        }
        byte[] head = Arrays.copyOf(Files.readAllBytes(out), 8);
        assertEquals("ftyp", new String(head, 4, 4, StandardCharsets.US_ASCII));
        assertFalse(Files.exists(dir.resolve("v.mp4.partial")));
    }

    @Test
    void missingFfmpegIsAClearError() {
        IOException e = assertThrows(IOException.class,
                () -> VideoSinks.open(dir.resolve("v.mp4").toString(), SPEC, dir.resolve("no-ffmpeg").toString(), null));
        assertTrue(e.getMessage().contains("needs ffmpeg"), e.getMessage());
        assertFalse(Files.exists(dir.resolve("v.mp4.partial")));
    }

    @Test
    void badArgumentsAreRejected() throws IOException {
        assertThrows(IllegalArgumentException.class, () -> new VideoSpec(0, 3, 16));
        assertThrows(IllegalArgumentException.class, () -> new VideoSpec(5, 100_000, 16));
        assertThrows(IllegalArgumentException.class, () -> new VideoSpec(5, 3, 0));
        assertThrows(IllegalArgumentException.class, () -> VideoSinks.formatOf("out.png"));
        assertThrows(IllegalArgumentException.class, () -> VideoSinks.formatOf("clip.avi"));
        assertEquals("png", VideoSinks.formatOf("frames"));
        assertEquals("mp4", VideoSinks.formatOf("A.MP4"));
        assertThrows(IOException.class, () -> VideoSinks.open(dir.resolve("missing/v.y4m").toString(), SPEC, null, null));
        Path nonEmpty = Files.createDirectories(dir.resolve("taken"));
        Files.writeString(nonEmpty.resolve("keep.txt"), "x");
        assertThrows(IOException.class, () -> VideoSinks.open(nonEmpty.toString(), SPEC, null, null));
        assertTrue(Files.exists(nonEmpty.resolve("keep.txt")));
        try (FrameSink sink = VideoSinks.open(dir.resolve("ok.y4m").toString(), SPEC, null, null)) {
            assertThrows(IllegalArgumentException.class, () -> sink.write(new byte[7]));
        }
    }

    private static byte[] random(long seed) {
        byte[] b = new byte[SPEC.rgbBytes()];
        new Random(seed).nextBytes(b);
        return b;
    }

    // BT.601 limited range back to RGB, the inverse a player applies.
    private static byte[] fromYuv444(byte[] planes) {
        int n = planes.length / 3;
        byte[] rgb = new byte[3 * n];
        for (int i = 0; i < n; i++) {
            double y = 1.164384 * ((planes[i] & 0xff) - 16);
            double cb = (planes[n + i] & 0xff) - 128, cr = (planes[2 * n + i] & 0xff) - 128;
            rgb[3 * i] = clamp(y + 1.596027 * cr);
            rgb[3 * i + 1] = clamp(y - 0.391762 * cb - 0.812968 * cr);
            rgb[3 * i + 2] = clamp(y + 2.017232 * cb);
        }
        return rgb;
    }

    private static byte clamp(double v) {
        return (byte) Math.max(0, Math.min(255, Math.round(v)));
    }
}
