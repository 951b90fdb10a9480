package dev.diagonal.text;

import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

class PromptCacheTest {
    @TempDir
    Path dir;

    @Test
    void storesLooksUpAndIgnoresUnusableEntries() throws Exception {
        PromptCache cache = new PromptCache(dir.resolve("c"));
        String key = PromptCache.key("tiny@random:0", "bytes", 8, "a red circle");
        assertNotEquals(key, PromptCache.key("tiny@random:0", "bytes", 8, "a red circle "));
        assertNotEquals(key, PromptCache.key("tiny@random:1", "bytes", 8, "a red circle"));
        try (Arena arena = Arena.ofConfined()) {
            assertNull(cache.lookup(key, new long[] {2, 3}, arena));
            Tensor ctx = Tensor.ofFloats(arena, new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
            cache.store(key, ctx, "tiny@random:0", "a red circle");
            assertArrayEquals(ctx.toFloatArray(), cache.lookup(key, new long[] {2, 3}, arena).toFloatArray());
            assertNull(cache.lookup(key, new long[] {3, 2}, arena), "another shape is a miss");
            Files.write(cache.fileFor(key), new byte[] {1, 2, 3});
            assertNull(cache.lookup(key, new long[] {2, 3}, arena), "a corrupt entry is a miss");
            Tensor wrongType = Tensor.allocate(arena, DType.F16, 2, 3);
            cache.store(key, wrongType, "x", "y");
            assertNull(cache.lookup(key, new long[] {2, 3}, arena));
        }
    }
}
