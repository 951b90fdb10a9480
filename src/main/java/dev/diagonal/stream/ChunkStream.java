package dev.diagonal.stream;

import dev.diagonal.model.dit.KvCache;
import dev.diagonal.model.dit.TextContext;
import dev.diagonal.model.dit.WanDiT;
import dev.diagonal.schedule.FlowMatching;
import dev.diagonal.schedule.StepList;
import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;

import java.lang.foreign.Arena;
import java.util.Iterator;
import java.util.NoSuchElementException;

/**
 * A video as an iterator of chunks, generated left to right: each {@link #next()} denoises one chunk with its
 * step list and hands it out at once. Owns the KV cache and every buffer of the stream; {@link #close()} frees
 * them. Does nothing else: no I/O, no printing.
 */
public final class ChunkStream implements Iterator<Chunk>, AutoCloseable {
    private final StreamSettings settings;
    private final Arena arena = Arena.ofShared();
    private final KvCache cache;
    private final ChunkSampler sampler;
    private final CacheHistory history;
    private final Tensor hostLatents;
    private final Tensor hostInput;
    private final WanDiT model;
    private TextContext text;
    /** A prompt switch asked for, applied when the next chunk begins (null: none). */
    private SwitchRule pendingSwitch;
    private int next;

    public ChunkStream(WanDiT model, TextContext text, StreamSettings settings, NoiseSource noise, StepObserver observer) {
        this.model = model;
        this.settings = settings;
        this.text = text;
        try {
            int tokensPerFrame = (settings.latentHeight() / model.config().patchH())
                    * (settings.latentWidth() / model.config().patchW());
            this.cache = new KvCache(model.backend(), arena, model.config(), tokensPerFrame,
                    settings.cacheFrames(), settings.effectiveSinkFrames());
            this.sampler = new ChunkSampler(model, arena, settings.chunkFrames(), settings.latentHeight(),
                    settings.latentWidth(), FlowMatching.WAN, noise, observer);
            this.hostLatents = Tensor.allocate(arena, DType.F32, model.config().outDim(), settings.chunkFrames(),
                    settings.latentHeight(), settings.latentWidth());
            this.hostInput = Tensor.allocate(arena, DType.F32, model.config().inDim(), settings.chunkFrames(),
                    settings.latentHeight(), settings.latentWidth());
            this.history = new CacheHistory(model, arena, settings.cacheFrames(), settings.chunkFrames(),
                    settings.latentHeight(), settings.latentWidth());
        } catch (RuntimeException | OutOfMemoryError e) {
            arena.close();
            throw e;
        }
    }

    public StreamSettings settings() {
        return settings;
    }

    @Override
    public boolean hasNext() {
        return next < settings.chunks();
    }

    /**
     * Switches the prompt: every chunk from the next one on is denoised under {@code next}. With
     * {@link SwitchRule#REENCODE} the next chunk first rewrites the K/V of every cached frame under the new
     * prompt (one pass per cached chunk, counted in that chunk's evaluations and time); with
     * {@link SwitchRule#KEEP} the cache keeps what the old prompt wrote. The stream does not own {@code next};
     * the old context is not read again once this returns, so its owner may free it.
     */
    public void switchText(TextContext next, SwitchRule rule) {
        if (next == null || rule == null) {
            throw new IllegalArgumentException("a prompt switch needs a text context and a cache rule");
        }
        this.text = next;
        // Two switches before a chunk: the window is re-encoded once, under the last prompt, if either asked.
        this.pendingSwitch = pendingSwitch == SwitchRule.REENCODE ? SwitchRule.REENCODE : rule;
    }

    /** Denoises the next chunk. The returned latents are valid until the following call. */
    @Override
    public Chunk next() {
        if (!hasNext()) {
            throw new NoSuchElementException("all " + settings.chunks() + " chunks are done");
        }
        int index = next++;
        int first = index * settings.chunkFrames();
        StepList steps = settings.schedule().steps(index);
        long start = System.nanoTime();
        cache.beginChunk(first, settings.chunkFrames());
        int evaluations = 0;
        if (pendingSwitch == SwitchRule.REENCODE) {
            // After beginChunk, so frames this chunk evicts are not re-encoded for nothing.
            evaluations += history.replay(cache, text, first);
            cache.revisit(first, settings.chunkFrames());
        }
        pendingSwitch = null;
        evaluations += sampler.denoise(index, first, steps, settings.contextRule(), hasNext(), text, cache);
        model.backend().copy(sampler.x0(), hostLatents);
        model.backend().copy(sampler.lastInput(), hostInput);
        history.record(first, hostInput, sampler.lastTimestep(), cache.frames());
        return new Chunk(index, first, hostLatents, steps, evaluations, System.nanoTime() - start);
    }

    /** Runs the rest of the stream, handing each chunk to {@code listener} as it is finished. */
    public void drainTo(ChunkListener listener) throws java.io.IOException {
        while (hasNext()) {
            listener.onChunk(next());
        }
    }

    @Override
    public void close() {
        arena.close();
    }
}
