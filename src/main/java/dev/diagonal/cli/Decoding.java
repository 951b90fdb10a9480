package dev.diagonal.cli;

import dev.diagonal.model.dit.TextContext;
import dev.diagonal.model.dit.WanDiT;
import dev.diagonal.model.vae.DecodeStream;
import dev.diagonal.stream.ChunkStream;
import dev.diagonal.stream.SeededNoise;
import dev.diagonal.stream.StepObserver;
import dev.diagonal.stream.StreamSettings;
import dev.diagonal.tensor.Tensor;
import dev.diagonal.video.FrameSink;
import dev.diagonal.video.Frames;

import java.io.IOException;
import java.lang.foreign.Arena;

/**
 * A decode stream feeding a sink, with the timings and progress line; and {@link #run}, the stream that
 * feeds it. Both {@code generate} and {@link ClipGenerator} (many clips from one loaded model) render
 * through here, so a clip made in a batch is byte for byte the clip {@code generate} makes.
 */
final class Decoding {
    private final DecodeStream stream;
    private final FrameSink sink;
    private final Progress progress;
    private long decodeNanos;
    private long firstFramesNanos = -1;
    private long firstFrames;
    private long lastNanos;

    Decoding(DecodeStream stream, FrameSink sink, Progress progress) {
        this.stream = stream;
        this.sink = sink;
        this.progress = progress;
    }

    /**
     * Runs the DiT stream for {@code seed}, copying each chunk into {@code latents} when given, and decoding it
     * into {@code decoding}'s sink when given (else printing the chunk's line on {@code report}): on the
     * caller's thread between chunks, or with {@code ownThread} on a {@link DecoderThread} while the DiT goes
     * on (the video is the same byte for byte; only the timing differs).
     */
    static void run(WanDiT dit, TextContext text, long seed, StreamSettings settings, Tensor latents,
                    StreamReport report, Decoding decoding, boolean ownThread) throws IOException {
        long start = System.nanoTime();
        try (ChunkStream stream = new ChunkStream(dit, text, settings, new SeededNoise(seed), StepObserver.NONE);
             DecoderThread decoder = decoding != null && ownThread
                     ? new DecoderThread((l, done) -> decoding.chunk(l, done, start)) : null) {
            stream.drainTo(chunk -> {
                if (latents != null) {
                    GenerateLatentsCommand.copyFrames(chunk, latents);
                }
                if (decoding == null) {
                    report.chunk(chunk);
                } else {
                    report.record(chunk);
                    if (decoder != null) {
                        decoder.submit(chunk.latents(), chunk.index() + 1);
                    } else {
                        decoding.chunk(chunk.latents(), chunk.index() + 1, start);
                    }
                }
            });
            if (decoder != null) {
                decoder.finish();
            }
        }
    }

    void chunk(Tensor latents, int chunksDone, long streamStart) throws IOException {
        long t0 = System.nanoTime();
        try (Arena frameArena = Arena.ofShared()) {
            Tensor video = stream.decode(latents, frameArena);
            byte[] rgb = new byte[sink.spec().rgbBytes()];
            for (long t = 0; t < video.dim(1); t++) {
                sink.write(Frames.toRgb(video, t, rgb));
            }
        }
        long t1 = System.nanoTime();
        decodeNanos += t1 - t0;
        if (firstFramesNanos < 0) {
            firstFramesNanos = t1 - streamStart;
            firstFrames = sink.frames();
        }
        lastNanos = t1 - streamStart;
        progress.update(chunksDone, sink.frames());
    }

    /** Time spent decoding and writing frames, in nanoseconds. */
    long decodeNanos() {
        return decodeNanos;
    }

    /**
     * Frames per second over the whole stream, and after the first chunk: the first chunk pays the JIT's
     * warm-up and the longest step list, so the later rate is the one a live stream keeps.
     */
    String rates(long frames) {
        String all = String.format("stream: %d frames in %.2f s, %.1f frames/s; first frames after %.0f ms",
                frames, lastNanos / 1e9, frames / (lastNanos / 1e9), firstFramesNanos / 1e6);
        long later = frames - firstFrames;
        if (later <= 0 || lastNanos <= firstFramesNanos) {
            return all;
        }
        return all + String.format(", then %.1f frames/s", later / ((lastNanos - firstFramesNanos) / 1e9));
    }
}
