package dev.diagonal.cli;

import dev.diagonal.backend.Backend;
import dev.diagonal.io.Weights;
import dev.diagonal.model.dit.TextContext;
import dev.diagonal.model.dit.WanDiT;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.Arena;

/**
 * A DiT ready to stream: backend, mapped checkpoint (or random weights), parameters and the encoded prompt,
 * with one owner. Closing it frees all of them, in reverse order.
 */
record LoadedModel(Backend backend, Weights weights, Arena arena, WanDiT dit, TextContext text) implements AutoCloseable {

    static LoadedModel open(ModelOptions model, Args a, PrintStream out) throws IOException {
        Backend backend = model.backend();
        Weights weights = null;
        Arena arena = Arena.ofShared();
        try {
            out.println("backend: " + backend.describe());
            weights = model.openWeights(out);
            WanDiT dit = WanDiT.load(model.config(), model.parameters(weights, arena, out), backend, arena);
            TextContext text = dit.encodeText(StreamOptions.promptEmbedding(a, model, backend, arena, out),
                    arena);
            return new LoadedModel(backend, weights, arena, dit, text);
        } catch (IOException | RuntimeException | Error e) {
            arena.close();
            if (weights != null) {
                weights.close();
            }
            backend.close();
            throw e;
        }
    }

    @Override
    public void close() {
        arena.close();
        if (weights != null) {
            weights.close();
        }
        backend.close();
    }
}
