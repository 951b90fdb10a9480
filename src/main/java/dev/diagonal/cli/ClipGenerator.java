package dev.diagonal.cli;

import dev.diagonal.backend.Backend;
import dev.diagonal.model.dit.ParameterSource;
import dev.diagonal.model.dit.TextContext;
import dev.diagonal.model.dit.WanDiT;
import dev.diagonal.model.vae.LatentDecoder;
import dev.diagonal.tensor.Tensor;
import dev.diagonal.video.FrameSink;
import dev.diagonal.video.VideoSpec;
import dev.diagonal.video.Y4mSink;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.nio.file.Path;

/**
 * {@code generate} as a library call, for callers that make many clips with one loaded model (the Spark
 * batch job): a backend, the DiT and the VAE decoder over a {@link ClipModel}'s mapped weights, and one
 * clip at a time through the same stream and decoder code as {@code generate}. One caller thread at a time,
 * as its backend requires; make one generator per thread.
 */
public final class ClipGenerator implements AutoCloseable {
    private final ClipModel model;
    private final Backend backend;
    private final Arena arena;
    private final WanDiT dit;
    private final LatentDecoder decoder;
    private boolean warm;

    private ClipGenerator(ClipModel model, Backend backend, Arena arena, WanDiT dit, LatentDecoder decoder) {
        this.model = model;
        this.backend = backend;
        this.arena = arena;
        this.dit = dit;
        this.decoder = decoder;
    }

    static ClipGenerator create(ClipModel model) {
        ModelOptions options = model.options();
        Backend backend = options.backend();
        Arena arena = Arena.ofShared();
        try {
            // Matrices stay views into the shared mapping; only vectors and the RoPE table are copied here.
            WanDiT dit = WanDiT.load(options.config(), ParameterSource.of(model.weights()), backend, arena);
            LatentDecoder decoder = model.vae().load(model.vaeWeights(), backend, arena);
            return new ClipGenerator(model, backend, arena, dit, decoder);
        } catch (RuntimeException | Error e) {
            arena.close();
            backend.close();
            throw e;
        }
    }

    /**
     * Makes the clip for {@code prompt} with noise seed {@code seed} and writes it to {@code out} as Y4M
     * (under {@code out.partial} until complete, as generate does).
     *
     * @param tap sees every frame as it is written (null: none); an exception it throws abandons the clip,
     *            leaving nothing under {@code out}
     */
    public ClipResult generate(String prompt, long seed, Path out, FrameTap tap) throws IOException {
        PrintStream quiet = ClipModel.quiet();
        try (Arena clip = Arena.ofShared()) {
            long t0 = System.nanoTime();
            Args a = model.clipArgs(prompt);
            Tensor embedding = StreamOptions.promptEmbedding(a, model.options(), backend, clip, quiet);
            TextContext text = dit.encodeText(embedding, clip);
            long t1 = System.nanoTime();
            if (!warm) {
                WarmUp.run(dit, text, decoder, model.settings(), model.warmUps(), quiet);
                warm = true;
            }
            long t2 = System.nanoTime();
            long decodeNanos;
            long written;
            try (FrameSink sink = tap == null ? Y4mSink.toFile(out, model.spec())
                    : new Tapped(Y4mSink.toFile(out, model.spec()), tap)) {
                int chunks = model.settings().chunks();
                Decoding d = new Decoding(decoder.newStream(clip), sink,
                        new Progress(quiet, false, System::nanoTime, chunks, model.frames()));
                Decoding.run(dit, text, seed, model.settings(), null, new StreamReport(quiet, chunks), d, false);
                sink.finish();
                decodeNanos = d.decodeNanos();
                written = sink.frames();
            }
            long t3 = System.nanoTime();
            return new ClipResult(written, t1 - t0, t2 - t1, t3 - t2, decodeNanos);
        }
    }

    /** The backend's one-line description (vector width, threads). */
    public String describeBackend() {
        return backend.describe();
    }

    @Override
    public void close() {
        arena.close();
        backend.close();
    }

    /** Sees each frame of a clip as it is written. */
    @FunctionalInterface
    public interface FrameTap {
        /** One frame, RGB8; the buffer is reused for the next frame, so copy what you keep. */
        void frame(byte[] rgb) throws IOException;
    }

    /** A sink that shows every frame to a tap after writing it. */
    private record Tapped(FrameSink sink, FrameTap tap) implements FrameSink {
        @Override
        public VideoSpec spec() {
            return sink.spec();
        }

        @Override
        public void write(byte[] rgb) throws IOException {
            sink.write(rgb);
            tap.frame(rgb);
        }

        @Override
        public long frames() {
            return sink.frames();
        }

        @Override
        public void finish() throws IOException {
            sink.finish();
        }

        @Override
        public void close() throws IOException {
            sink.close();
        }
    }
}
