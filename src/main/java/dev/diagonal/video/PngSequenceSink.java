package dev.diagonal.video;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A directory of frame_00000.png, frame_00001.png, ... (lossless RGB). Frames go into {@code dir.partial}
 * as they arrive; the directory takes its real name on {@link #finish()}.
 */
public final class PngSequenceSink implements FrameSink {
    private final VideoSpec spec;
    private final PartialOutput dir;
    private final BufferedImage image;
    private long frames;
    private boolean finished;

    public PngSequenceSink(Path directory, VideoSpec spec) throws IOException {
        this.spec = spec;
        this.dir = new PartialOutput(directory);
        Files.createDirectories(dir.partial());
        this.image = new BufferedImage(spec.width(), spec.height(), BufferedImage.TYPE_INT_RGB);
    }

    @Override
    public VideoSpec spec() {
        return spec;
    }

    @Override
    public void write(byte[] rgb) throws IOException {
        if (finished) {
            throw new IllegalStateException("png sink is finished");
        }
        FrameSink.checkFrame(spec, rgb);
        int w = spec.width();
        for (int i = 0, n = rgb.length / 3; i < n; i++) {
            image.setRGB(i % w, i / w, (rgb[3 * i] & 0xff) << 16 | (rgb[3 * i + 1] & 0xff) << 8 | (rgb[3 * i + 2] & 0xff));
        }
        Path file = dir.partial().resolve(String.format("frame_%05d.png", frames));
        if (!ImageIO.write(image, "png", file.toFile())) {
            throw new IOException("no PNG writer in this JDK");
        }
        frames++;
    }

    @Override
    public long frames() {
        return frames;
    }

    @Override
    public void finish() throws IOException {
        dir.commit();
        finished = true;
    }

    @Override
    public void close() throws IOException {
        if (!finished) {
            dir.abandon();
        }
    }
}
