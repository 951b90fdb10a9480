package dev.diagonal.model.dit;

import dev.diagonal.backend.cpu.CpuBackend;
import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class KvCacheTest {
    private static final int TOKENS = 2;

    @Test
    void evictsTheOldestFramesAfterTheSinkAndKeepsContentsInOrder() {
        try (Arena arena = Arena.ofConfined(); CpuBackend backend = new CpuBackend(1)) {
            KvCache cache = new KvCache(backend, arena, WanConfig.TINY, TOKENS, 9, 3);
            for (int chunk = 0; chunk < 5; chunk++) {
                cache.beginChunk(3 * chunk, 3);
                for (int layer = 0; layer < WanConfig.TINY.numLayers(); layer++) {
                    cache.write(layer, framesTagged(arena, 3 * chunk, layer, 1), framesTagged(arena, 3 * chunk, layer, -1));
                }
            }
            // Chunk 3 evicted frames 3-5, chunk 4 evicted 6-8; the sink 0-2 stays.
            assertEquals(List.of(0, 1, 2, 9, 10, 11, 12, 13, 14), cache.frames());
            for (int layer = 0; layer < WanConfig.TINY.numLayers(); layer++) {
                Tensor k = cache.keys(layer);
                Tensor v = cache.values(layer);
                assertEquals(9 * TOKENS, k.dim(0));
                List<Integer> frames = cache.frames();
                for (int slot = 0; slot < frames.size(); slot++) {
                    for (int t = 0; t < TOKENS; t++) {
                        long row = (long) slot * TOKENS + t;
                        assertEquals(tag(frames.get(slot), layer, t), k.getFloat(row * 64 + 5));
                        assertEquals(-tag(frames.get(slot), layer, t), v.getFloat(row * 64 + 63));
                    }
                }
            }
        }
    }

    @Test
    void repeatedPassesOverwriteTheChunksSlots() {
        try (Arena arena = Arena.ofConfined(); CpuBackend backend = new CpuBackend(1)) {
            KvCache cache = new KvCache(backend, arena, WanConfig.TINY, TOKENS, 6, 0);
            cache.beginChunk(0, 3);
            cache.write(0, framesTagged(arena, 0, 0, 1), framesTagged(arena, 0, 0, 1));
            cache.write(0, framesTagged(arena, 100, 0, 1), framesTagged(arena, 100, 0, 1));
            assertEquals(3 * TOKENS, cache.keys(0).dim(0));
            assertEquals(tag(100, 0, 0), cache.keys(0).getFloat(5));
        }
    }

    @Test
    void rejectsOutOfOrderChunksAndWindowsTooSmall() {
        try (Arena arena = Arena.ofConfined(); CpuBackend backend = new CpuBackend(1)) {
            KvCache cache = new KvCache(backend, arena, WanConfig.TINY, TOKENS, 6, 0);
            cache.beginChunk(0, 3);
            assertThrows(IllegalStateException.class, () -> cache.beginChunk(6, 3));
            assertThrows(IllegalArgumentException.class, () -> cache.beginChunk(3, 7));
            assertThrows(IllegalArgumentException.class, () -> new KvCache(backend, arena, WanConfig.TINY, TOKENS, 3, 3));
            KvCache fresh = new KvCache(backend, arena, WanConfig.TINY, TOKENS, 6, 0);
            assertThrows(IllegalStateException.class, () -> fresh.write(0, framesTagged(arena, 0, 0, 1), framesTagged(arena, 0, 0, 1)));
        }
    }

    private static float tag(int frame, int layer, int token) {
        return 1000 * layer + 10 * frame + token + 1;
    }

    // Three frames of TOKENS rows each, every element of a row set to sign * tag(frame, layer, token).
    private static Tensor framesTagged(Arena arena, int firstFrame, int layer, int sign) {
        Tensor t = Tensor.allocate(arena, DType.F32, 3 * TOKENS, 64);
        for (int f = 0; f < 3; f++) {
            for (int tok = 0; tok < TOKENS; tok++) {
                for (int c = 0; c < 64; c++) {
                    t.setFloat(((long) f * TOKENS + tok) * 64 + c, sign * tag(firstFrame + f, layer, tok));
                }
            }
        }
        return t;
    }
}
