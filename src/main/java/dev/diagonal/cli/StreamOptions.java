package dev.diagonal.cli;

import dev.diagonal.backend.Backend;
import dev.diagonal.io.SafetensorsFile;
import dev.diagonal.model.Family;
import dev.diagonal.model.ModelBundle;
import dev.diagonal.model.dit.WanConfig;
import dev.diagonal.schedule.ContextRule;
import dev.diagonal.schedule.DiagonalSchedule;
import dev.diagonal.stream.StreamSettings;
import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Set;

/** Flags that shape a stream: chunks, latent size, schedule, context rule, cache window; and the prompt. */
final class StreamOptions {
    static final Set<String> VALUED = Set.of("prompt-embedding", "chunks", "chunk-frames", "latent-height",
            "latent-width", "schedule", "context", "window", "sink");

    private StreamOptions() {
    }

    /** The flags, defaulting to what a model directory was distilled with, else to the config's usual size. */
    static StreamSettings parse(Args a, ModelOptions model) {
        ModelBundle.Stream b = model.bundle() == null ? null : model.bundle().stream();
        Family f = model.family();
        boolean real = model.config().textDim() == WanConfig.T2V_1_3B.textDim();
        // A family's stream settings are those its release runs with; flags still override them.
        DiagonalSchedule schedule = a.has("schedule") || f == null
                ? DiagonalSchedule.parse(a.string("schedule", b != null ? b.schedule() : DiagonalSchedule.DIAGONAL_4_3_2.name()))
                : f.schedule();
        ContextRule context = a.has("context") || f == null
                ? ContextRule.parse(a.string("context", b != null ? b.context() : "reuse")) : f.context();
        return new StreamSettings(
                a.integer("chunks", b != null ? b.chunks() : 7, 1, StreamSettings.MAX_FRAMES),
                a.integer("chunk-frames", b != null ? b.chunkFrames() : f != null ? f.chunkFrames() : 3, 1, 64),
                a.integer("latent-height", b != null ? b.latentHeight() : real ? 60 : 8, 1, 1024),
                a.integer("latent-width", b != null ? b.latentWidth() : real ? 104 : 8, 1, 1024),
                schedule, context,
                a.integer("window", b != null ? b.window() : f != null ? f.window() : 0, 0, StreamSettings.MAX_FRAMES),
                a.integer("sink", b != null ? b.sink() : f != null ? f.sink() : 0, 0, StreamSettings.MAX_FRAMES));
    }

    /**
     * The prompt's text-encoder output [textLen, textDim]: prompt text encoded (see {@link TextOptions}), or
     * --prompt-embedding, or zeros (an empty prompt).
     */
    static Tensor promptEmbedding(Args a, ModelOptions model, Backend backend, Arena arena, PrintStream log)
            throws IOException {
        WanConfig config = model.config();
        TextOptions text = TextOptions.parse(a, config.textDim(), model.seed(), model.bundle());
        if (text != null) {
            return text.context(config.textLen(), backend, arena, log);
        }
        Tensor out = Tensor.allocate(arena, DType.F32, config.textLen(), config.textDim());
        if (!a.has("prompt-embedding")) {
            return out;
        }
        Path path = Path.of(a.string("prompt-embedding", ""));
        try (SafetensorsFile file = SafetensorsFile.open(path)) {
            if (!file.names().contains("context")) {
                throw new IllegalArgumentException(path + " has no tensor 'context'");
            }
            Tensor t = file.tensor("context");
            if (!Arrays.equals(t.shape(), out.shape()) || !t.dtype().isComputeFloat()) {
                throw new IllegalArgumentException(path + ": 'context' is " + t + ", expected a float tensor "
                        + Arrays.toString(out.shape()) + " for config " + config.name());
            }
            out.copyFrom(t);
        }
        return out;
    }
}
