package dev.diagonal.cli;

import dev.diagonal.model.dit.TextContext;
import dev.diagonal.model.dit.WanConfig;
import dev.diagonal.model.dit.WanDiT;
import dev.diagonal.model.vae.DecodeStream;
import dev.diagonal.model.vae.LatentDecoder;
import dev.diagonal.stream.ChunkStream;
import dev.diagonal.stream.SeededNoise;
import dev.diagonal.stream.StepObserver;
import dev.diagonal.stream.StreamSettings;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.Arena;

/**
 * A few throwaway streams of the real model at an 8x8 latent size, before the real stream. The hot kernels
 * are Vector API code, which is slow until C2 compiles it: with a small model the first real chunk would
 * otherwise run mostly uncompiled (1.4 s instead of 0.1 s for the default model) and the stream would
 * stutter for its first seconds. The tiny streams take the same compile time up front (about as long in
 * total), so the real stream keeps its pace from its first frame. For a large model a chunk's compute
 * dwarfs compilation and the tiny streams would each read every weight, so none are run by default.
 */
final class WarmUp {
    /** Below this many DiT parameters (a rough count), warm-up is on by default. */
    private static final long SMALL_MODEL = 100_000_000L;
    private static final int DEFAULT_STREAMS = 3;
    /**
     * 8x8, not smaller: at 4x4 a chunk is 12 tokens, every GEMM falls under the CPU backend's inline threshold,
     * and the threaded path the real stream takes was first compiled during the real first chunk (3.8 s against
     * 1.8 s at 8x8, measured side by side on a loaded AVX2 machine).
     */
    private static final int SIZE = 8;

    private WarmUp() {
    }

    /** The default number of warm-up streams for a model: a few for a small one, none for a large one. */
    static int defaultStreams(WanConfig config) {
        return isSmall(config) ? DEFAULT_STREAMS : 0;
    }

    /** Whether a DiT is small: its chunks take milliseconds, so JIT warm-up and thread hand-offs show. */
    static boolean isSmall(WanConfig config) {
        // Self- and cross-attention projections (8 dim x dim) and the FFN: Wan2.1-1.3B comes to 1.39e9.
        long perBlock = 8L * config.dim() * config.dim() + 2L * config.dim() * config.ffnDim();
        return perBlock * config.numLayers() < SMALL_MODEL;
    }

    /**
     * Runs {@code streams} tiny streams (or the default number when negative) through the DiT and, when
     * given, the decoder; the results are discarded.
     */
    static void run(WanDiT dit, TextContext text, LatentDecoder decoder, StreamSettings settings, int streams,
                    PrintStream log) throws IOException {
        int n = streams < 0 ? defaultStreams(dit.config()) : streams;
        if (n == 0) {
            return;
        }
        long t0 = System.nanoTime();
        StreamSettings tiny = new StreamSettings(Math.min(settings.chunks(), 3), settings.chunkFrames(),
                Math.min(SIZE, settings.latentHeight()), Math.min(SIZE, settings.latentWidth()), settings.schedule(),
                settings.contextRule(), settings.windowFrames(), settings.sinkFrames());
        for (int i = 0; i < n; i++) {
            try (Arena arena = Arena.ofShared();
                 ChunkStream stream = new ChunkStream(dit, text, tiny, new SeededNoise(i), StepObserver.NONE)) {
                DecodeStream decode = decoder == null ? null : decoder.newStream(arena);
                stream.drainTo(chunk -> {
                    if (decode != null) {
                        try (Arena frame = Arena.ofShared()) {
                            decode.decode(chunk.latents(), frame);
                        }
                    }
                });
            }
        }
        log.printf("warm-up: %d streams of %d chunks at %dx%d latents in %.0f ms%n", n, tiny.chunks(),
                tiny.latentHeight(), tiny.latentWidth(), (System.nanoTime() - t0) / 1e6);
    }
}
