package dev.diagonal.stream;

import dev.diagonal.model.dit.Activations;
import dev.diagonal.model.dit.KvCache;
import dev.diagonal.model.dit.TextContext;
import dev.diagonal.model.dit.WanDiT;
import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;

import java.lang.foreign.Arena;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What the KV cache was written from, kept so the cache can be rewritten: for every frame it holds, the input
 * and timestep of the pass whose K/V it keeps (the last denoising step under noisy reuse, the context pass
 * under re-encode). Replaying those passes under another prompt gives the cache that prompt would have
 * written from the same latents, one pass per cached chunk.
 *
 * <p>Host storage is one slot per frame the cache can hold, reused as frames are evicted, so a stream of any
 * length keeps a fixed footprint. Owned by its stream; buffers live in the stream's arena.
 */
final class CacheHistory {
    private final WanDiT model;
    private final Arena arena;
    private final int chunkFrames;
    private final long channels;
    private final int height;
    private final int width;
    private final long pixels;
    private final Tensor store;
    private final double[] timestepOf;
    private final Map<Integer, Integer> slotOf = new HashMap<>();
    private final ArrayDeque<Integer> free = new ArrayDeque<>();
    /** Per run length (1 .. chunkFrames): host and device input, flow output, scratch; made when first needed. */
    private final Run[] runs;

    private record Run(Tensor host, Tensor input, Tensor flow, Activations activations) {
    }

    CacheHistory(WanDiT model, Arena arena, int capacityFrames, int chunkFrames, int height, int width) {
        this.model = model;
        this.arena = arena;
        this.chunkFrames = chunkFrames;
        this.channels = model.config().inDim();
        this.height = height;
        this.width = width;
        this.pixels = (long) height * width;
        this.store = Tensor.allocate(arena, DType.F32, capacityFrames, channels, height, width);
        this.timestepOf = new double[capacityFrames];
        for (int i = 0; i < capacityFrames; i++) {
            free.add(i);
        }
        this.runs = new Run[chunkFrames + 1];
    }

    /**
     * Remembers the last pass of the chunk starting at {@code first}: its input (host F32 [C, F, h, w]) at
     * {@code timestep}. Frames the cache no longer holds ({@code held}, after the chunk began) are forgotten.
     */
    void record(int first, Tensor input, double timestep, List<Integer> held) {
        slotOf.entrySet().removeIf(e -> {
            if (held.contains(e.getKey())) {
                return false;
            }
            free.add(e.getValue());
            return true;
        });
        long frames = input.dim(1);
        for (int f = 0; f < frames; f++) {
            int slot = free.remove();
            for (long c = 0; c < channels; c++) {
                long src = (c * frames + f) * pixels, dst = (slot * channels + c) * pixels;
                for (long p = 0; p < pixels; p++) {
                    store.setFloat(dst + p, input.getFloat(src + p));
                }
            }
            timestepOf[slot] = timestep;
            slotOf.put(first + f, slot);
        }
    }

    /**
     * Rewrites the K/V of every held frame before {@code before} under {@code text}, oldest first, each chunk's
     * frames in one pass that attends to the frames before them, and returns the passes run. The caller has
     * begun the chunk at {@code before} and points the cache back at it afterwards.
     */
    int replay(KvCache cache, TextContext text, int before) {
        List<Integer> held = cache.frames();
        int passes = 0;
        int i = 0;
        while (i < held.size() && held.get(i) < before) {
            int first = held.get(i);
            int n = 1;
            while (i + n < held.size() && held.get(i + n) == first + n && held.get(i + n) < before
                    && (first + n) / chunkFrames == first / chunkFrames) {
                n++;
            }
            Run run = run(n);
            double[] timesteps = new double[n];
            for (int f = 0; f < n; f++) {
                Integer slot = slotOf.get(first + f);
                if (slot == null) {
                    throw new IllegalStateException("the cache holds frame " + (first + f) + " but its input was not kept");
                }
                timesteps[f] = timestepOf[slot];
                for (long c = 0; c < channels; c++) {
                    long src = ((long) slot * channels + c) * pixels, dst = (c * n + f) * pixels;
                    for (long p = 0; p < pixels; p++) {
                        run.host.setFloat(dst + p, store.getFloat(src + p));
                    }
                }
            }
            model.backend().copy(run.host, run.input);
            cache.revisit(first, n);
            // Output discarded: the pass exists to overwrite these frames' slots with K/V under the new prompt.
            model.forward(run.input, timesteps, first, text, cache, run.activations, run.flow);
            passes++;
            i += n;
        }
        return passes;
    }

    private Run run(int frames) {
        if (runs[frames] == null) {
            var be = model.backend();
            runs[frames] = new Run(Tensor.allocate(arena, DType.F32, channels, frames, height, width),
                    be.allocate(arena, DType.F32, channels, frames, height, width),
                    be.allocate(arena, DType.F32, model.config().outDim(), frames, height, width),
                    model.activations(arena, frames, height, width));
        }
        return runs[frames];
    }
}
