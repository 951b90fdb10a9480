package dev.diagonal.cli;

import java.io.PrintStream;
import java.util.function.LongSupplier;

/**
 * The generate command's progress line: chunks done, video frames written, frames per second so far and an
 * estimate of the time left (remaining frames at the rate so far). On a terminal the line rewrites itself;
 * into a file or pipe it prints one line per chunk.
 */
final class Progress {
    private final PrintStream out;
    private final boolean terminal;
    private final LongSupplier clock;
    private final long start;
    private final int chunks;
    private final long frames;

    Progress(PrintStream out, boolean terminal, LongSupplier nanoClock, int chunks, long frames) {
        this.out = out;
        this.terminal = terminal;
        this.clock = nanoClock;
        this.start = nanoClock.getAsLong();
        this.chunks = chunks;
        this.frames = frames;
    }

    /** Reports that {@code chunksDone} chunks and {@code framesDone} video frames are out. */
    void update(int chunksDone, long framesDone) {
        String line = line(chunksDone, framesDone, (clock.getAsLong() - start) / 1e9);
        if (terminal) {
            out.print("\r" + line + (chunksDone == chunks ? "\n" : ""));
        } else {
            out.println(line);
        }
        out.flush();
    }

    String line(int chunksDone, long framesDone, double seconds) {
        double fps = seconds > 0 ? framesDone / seconds : 0;
        String left = fps > 0 ? clock((frames - framesDone) / fps) : "?";
        return String.format("chunk %d/%d | %d/%d frames | %.2f frames/s | %s left", chunksDone, chunks, framesDone,
                frames, fps, left);
    }

    static String clock(double seconds) {
        long s = Math.round(seconds);
        return s >= 3600 ? String.format("%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
                : String.format("%d:%02d", s / 60, s % 60);
    }
}
