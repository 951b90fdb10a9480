package dev.diagonal.io;

import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Device;
import dev.diagonal.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The writer either produces the whole file or leaves the directory exactly as it was. */
class SafetensorsWriterTest {
    @TempDir
    Path dir;

    private List<Path> listing() throws IOException {
        try (var s = Files.list(dir)) {
            return s.sorted().toList();
        }
    }

    @Test
    void tensorOnAClosedArenaLeavesNoFile() throws IOException {
        Tensor dead;
        try (Arena gone = Arena.ofConfined()) {
            dead = Tensor.allocate(gone, DType.F32, 16);
        }
        try (Arena arena = Arena.ofConfined()) {
            Map<String, Tensor> m = new TreeMap<>(Map.of("a", Tensor.allocate(arena, DType.F32, 4), "z", dead));
            assertThrows(IllegalStateException.class, () -> SafetensorsWriter.write(dir.resolve("x.safetensors"), m));
        }
        assertEquals(List.of(), listing(), "no target and no temporary file");
    }

    @Test
    void failedRewriteKeepsTheOldFile() throws IOException {
        Path p = dir.resolve("keep.safetensors");
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsWriter.write(p, Map.of("w", Tensor.ofFloats(arena, new float[] {1, 2}, 2)));
        }
        byte[] before = Files.readAllBytes(p);
        Tensor dead;
        try (Arena gone = Arena.ofConfined()) {
            dead = Tensor.allocate(gone, DType.U8, 3);
        }
        Tensor deadRef = dead;
        assertThrows(IllegalStateException.class, () -> SafetensorsWriter.write(p, Map.of("w", deadRef)));
        assertArrayEquals(before, Files.readAllBytes(p));
        assertEquals(List.of(p), listing());
    }

    @Test
    void invalidInputsAreRefusedBeforeAnythingIsWritten() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor t = Tensor.allocate(arena, DType.F32, 1);
            Path p = dir.resolve("bad.safetensors");
            assertThrows(IllegalArgumentException.class, () -> SafetensorsWriter.write(p, Map.of("__metadata__", t)));
            assertThrows(IllegalArgumentException.class, () -> SafetensorsWriter.write(p, Map.of("a\uD800b", t)));
            assertThrows(IllegalArgumentException.class,
                    () -> SafetensorsWriter.write(p, Map.of("a", t), Map.of("k", "\uDC00")));
            Tensor cuda = Tensor.of(MemorySegment.ofArray(new byte[4]), DType.F32, Device.CUDA, 1); // only the label matters
            assertThrows(IllegalArgumentException.class, () -> SafetensorsWriter.write(p, Map.of("g", cuda)));
            assertEquals(List.of(), listing());
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void missingDirectoryIsAnIOException() {
        assertThrows(IOException.class,
                () -> SafetensorsWriter.write(dir.resolve("no/such/dir/x.safetensors"), Map.of()));
    }

    @Test
    void emptyCheckpointIsValid() throws IOException {
        Path p = dir.resolve("empty.safetensors");
        SafetensorsWriter.write(p, Map.of());
        assertEquals(16, Files.size(p)); // 8-byte length + "{}" padded to 8
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertEquals(0, f.names().size());
        }
    }
}
