package dev.diagonal.cli;

import dev.diagonal.stream.Chunk;

import java.io.PrintStream;

/** Prints a line per finished chunk and the stream's totals: evaluations, ms per chunk, latent frames/s. */
final class StreamReport {
    private final PrintStream out;
    private final int chunks;
    private int evaluations;
    private int frames;
    private long nanos;
    private long firstChunkNanos = -1;

    StreamReport(PrintStream out, int chunks) {
        this.out = out;
        this.chunks = chunks;
    }

    void chunk(Chunk c) {
        record(c);
        out.printf("chunk %d/%d  frames %d-%d  steps %s  nfe %d  %.1f ms%n", c.index() + 1, chunks, c.firstFrame(),
                c.firstFrame() + c.frames() - 1, c.steps(), c.evaluations(), c.nanos() / 1e6);
    }

    /** Counts a chunk into the totals without printing its line (when a progress line reports instead). */
    void record(Chunk c) {
        evaluations += c.evaluations();
        frames += c.frames();
        nanos += c.nanos();
        if (firstChunkNanos < 0) {
            firstChunkNanos = c.nanos();
        }
    }

    void summary() {
        double seconds = nanos / 1e9;
        out.printf("DiT: %d chunks, %d latent frames, %d network evaluations in %.3f s: %.1f ms/chunk, "
                        + "first chunk %.1f ms, %.2f latent frames/s%n", chunks, frames, evaluations, seconds,
                nanos / 1e6 / chunks, firstChunkNanos / 1e6, frames / seconds);
    }

    int evaluations() {
        return evaluations;
    }
}
