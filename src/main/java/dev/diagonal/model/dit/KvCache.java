package dev.diagonal.model.dit;

import dev.diagonal.backend.Backend;
import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;

/**
 * The self-attention KV cache of every block: roped keys and values, [capacity tokens, dim] per block,
 * stored frame by frame in the order the frames were generated. RoPE is applied before caching, so a frame
 * keeps its absolute position when older frames are evicted.
 *
 * <p>With a local window of W frames and a sink of S frames, starting a chunk that does not fit evicts the
 * oldest frames after the sink (the sink stays forever). Every forward pass of a chunk overwrites that
 * chunk's slots, which is what lets the next chunk reuse the K/V of the last denoising step.
 */
public final class KvCache {
    private final Backend backend;
    private final int tokensPerFrame;
    private final int capacityFrames;
    private final int sinkFrames;
    private final Tensor[] keys;
    private final Tensor[] values;
    private final List<Integer> frames = new ArrayList<>();
    private int chunkFirstSlot = -1;
    private int chunkFrames;
    /** Frames the current pass attends to: all held ones, except while a {@link #revisit} replays older frames. */
    private int visibleFrames;

    /**
     * @param capacityFrames frames kept (the local window, or the whole video when there is none)
     * @param sinkFrames     leading frames never evicted (0 for none)
     */
    public KvCache(Backend backend, Arena arena, WanConfig config, int tokensPerFrame, int capacityFrames, int sinkFrames) {
        if (tokensPerFrame <= 0 || capacityFrames <= 0) {
            throw new IllegalArgumentException("KV cache needs positive tokens per frame and capacity, got "
                    + tokensPerFrame + " and " + capacityFrames);
        }
        if (sinkFrames < 0 || sinkFrames >= capacityFrames) {
            throw new IllegalArgumentException("sink of " + sinkFrames + " frames must be smaller than the window of "
                    + capacityFrames + " frames");
        }
        this.backend = backend;
        this.tokensPerFrame = tokensPerFrame;
        this.capacityFrames = capacityFrames;
        this.sinkFrames = sinkFrames;
        this.keys = new Tensor[config.numLayers()];
        this.values = new Tensor[config.numLayers()];
        long rows = Math.multiplyExact((long) capacityFrames, tokensPerFrame);
        for (int i = 0; i < keys.length; i++) {
            keys[i] = backend.allocate(arena, DType.F32, rows, config.dim());
            values[i] = backend.allocate(arena, DType.F32, rows, config.dim());
        }
    }

    /** Bytes one cache of this shape takes: 2 tensors per block of capacity tokens x dim floats. */
    public static long bytes(WanConfig config, int tokensPerFrame, int capacityFrames) {
        return 2L * config.numLayers() * capacityFrames * tokensPerFrame * config.dim() * Float.BYTES;
    }

    /**
     * Makes room for the chunk of {@code count} frames starting at absolute frame {@code first}, evicting the
     * oldest frames after the sink when the window is full. Frames must arrive in order.
     */
    public void beginChunk(int first, int count) {
        if (count <= 0 || count + sinkFrames > capacityFrames) {
            throw new IllegalArgumentException("a chunk of " + count + " frames does not fit a window of "
                    + capacityFrames + " frames with a sink of " + sinkFrames);
        }
        int expected = frames.isEmpty() ? first : frames.getLast() + 1;
        if (first != expected) {
            throw new IllegalStateException("chunk starts at frame " + first + " but the cache ends before frame " + expected);
        }
        int overflow = frames.size() + count - capacityFrames;
        if (overflow > 0) {
            int kept = frames.size() - sinkFrames - overflow;
            for (int i = 0; i < keys.length; i++) {
                long from = (long) (sinkFrames + overflow) * tokensPerFrame;
                backend.copyRows(keys[i], from, keys[i], (long) sinkFrames * tokensPerFrame, (long) kept * tokensPerFrame);
                backend.copyRows(values[i], from, values[i], (long) sinkFrames * tokensPerFrame, (long) kept * tokensPerFrame);
            }
            frames.subList(sinkFrames, sinkFrames + overflow).clear();
        }
        chunkFirstSlot = frames.size();
        chunkFrames = count;
        for (int f = 0; f < count; f++) {
            frames.add(first + f);
        }
        visibleFrames = frames.size();
    }

    /**
     * Points writes at the slots that already hold frames {@code first .. first+count-1} and hides every later
     * frame, so a pass over those frames rewrites their K/V as if the stream were making them again, attending
     * only to what came before them. Replaying the held frames oldest first re-encodes the whole window (under
     * a new prompt, say); the next {@link #beginChunk} shows every frame again.
     */
    public void revisit(int first, int count) {
        int slot = frames.indexOf(first);
        if (count <= 0 || slot < 0 || slot + count > frames.size() || frames.get(slot + count - 1) != first + count - 1) {
            throw new IllegalArgumentException("frames " + first + ".." + (first + count - 1)
                    + " are not held side by side; the cache holds " + frames);
        }
        chunkFirstSlot = slot;
        chunkFrames = count;
        visibleFrames = slot + count;
    }

    /** Writes the current chunk's roped keys and values of block {@code layer} into its slots. */
    public void write(int layer, Tensor k, Tensor v) {
        if (chunkFirstSlot < 0) {
            throw new IllegalStateException("write before beginChunk");
        }
        long row = (long) chunkFirstSlot * tokensPerFrame;
        long n = (long) chunkFrames * tokensPerFrame;
        if (k.dim(0) != n || v.dim(0) != n) {
            throw new IllegalArgumentException("chunk has " + n + " tokens, got keys " + k + " and values " + v);
        }
        backend.copyRows(k, 0, keys[layer], row, n);
        backend.copyRows(v, 0, values[layer], row, n);
    }

    /** Keys of block {@code layer} visible to the current chunk: every earlier stored frame, the chunk's own last. */
    public Tensor keys(int layer) {
        return keys[layer].rows(0, storedTokens());
    }

    public Tensor values(int layer) {
        return values[layer].rows(0, storedTokens());
    }

    /** Absolute indices of the frames held, in slot order. */
    public List<Integer> frames() {
        return List.copyOf(frames);
    }

    private long storedTokens() {
        return (long) visibleFrames * tokensPerFrame;
    }
}
