package dev.diagonal.io;

import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Writer to reader and back: every dtype, odd shapes, metadata, names that need escaping, and the layout. */
class SafetensorsRoundTripTest {
    @TempDir
    Path dir;

    /** A tensor whose bytes are a pattern distinct per tensor, so a mixed-up offset shows. */
    private static Tensor patterned(Arena arena, DType dtype, int seed, long... shape) {
        Tensor t = Tensor.allocate(arena, dtype, shape);
        for (long i = 0; i < t.byteSize(); i++) {
            t.data().set(ValueLayout.JAVA_BYTE, i, (byte) (i * 31 + seed * 7 + 1));
        }
        return t;
    }

    @Test
    void everyDtypeRoundTripsBitExactly() throws IOException {
        Path p = dir.resolve("all.safetensors");
        Map<String, Tensor> in = new LinkedHashMap<>();
        try (Arena arena = Arena.ofConfined()) {
            int seed = 0;
            for (DType d : DType.values()) {
                in.put("t." + d.name().toLowerCase(), patterned(arena, d, seed++, 3, 5));
            }
            in.put("scalar", patterned(arena, DType.F32, 99));
            in.put("empty", Tensor.allocate(arena, DType.BF16, 0));
            in.put("empty2d", Tensor.allocate(arena, DType.I64, 4, 0));
            SafetensorsWriter.write(p, in);
            try (SafetensorsFile f = SafetensorsFile.open(p)) {
                assertEquals(in.keySet(), f.names());
                for (Map.Entry<String, Tensor> e : in.entrySet()) {
                    Tensor out = f.tensor(e.getKey());
                    assertEquals(e.getValue().dtype(), out.dtype(), e.getKey());
                    assertArrayEquals(e.getValue().shape(), out.shape(), e.getKey());
                    assertEquals(-1, e.getValue().data().mismatch(out.data()), e.getKey());
                    assertTrue(out.data().isMapped(), "views must be of the mapping, not heap copies");
                }
                assertEquals(Map.of(), f.metadata());
            }
        }
    }

    @Test
    void halfPrecisionValuesSurvive() throws IOException {
        float[] values = {0f, -0f, 1f, -2.5f, 65504f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 1e-7f, 3.140625f};
        Path p = dir.resolve("half.safetensors");
        try (Arena arena = Arena.ofConfined()) {
            Tensor bf = Tensor.allocate(arena, DType.BF16, values.length);
            Tensor f16 = Tensor.allocate(arena, DType.F16, values.length);
            for (int i = 0; i < values.length; i++) {
                bf.setFloat(i, values[i]);
                f16.setFloat(i, values[i]);
            }
            SafetensorsWriter.write(p, Map.of("bf", bf, "f16", f16));
            try (SafetensorsFile f = SafetensorsFile.open(p)) {
                assertArrayEquals(bf.toFloatArray(), f.tensor("bf").toFloatArray());
                assertArrayEquals(f16.toFloatArray(), f.tensor("f16").toFloatArray());
                assertEquals(3.140625f, f.tensor("bf").getFloat(8)); // exactly representable in bf16
                assertEquals(65504f, f.tensor("f16").getFloat(4)); // largest finite f16
            }
        }
    }

    @Test
    void metadataAndAwkwardNamesRoundTrip() throws IOException {
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "pt");
        meta.put("quote\"back\\slash", "new\nline\ttab\u0001ctl");
        meta.put("unicode \u00e9\u4e2d", "emoji \uD83D\uDE00");
        meta.put("", "");
        Path p = dir.resolve("meta.safetensors");
        try (Arena arena = Arena.ofConfined()) {
            String name = "blocks.0.\"odd\"\\name\u00e9\uD83D\uDE00";
            SafetensorsWriter.write(p, Map.of(name, patterned(arena, DType.U8, 1, 7)), meta);
            try (SafetensorsFile f = SafetensorsFile.open(p)) {
                assertEquals(java.util.Set.of(name), f.names());
                assertEquals(meta, f.metadata());
                assertEquals(7, f.tensor(name).byteSize());
            }
        }
    }

    @Test
    void layoutIsSortedPackedAndEightByteAligned() throws IOException {
        Path p = dir.resolve("layout.safetensors");
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsWriter.write(p, Map.of("b", patterned(arena, DType.U8, 1, 3),
                    "a", patterned(arena, DType.F32, 2, 2), "c", patterned(arena, DType.I16, 3, 5)));
        }
        byte[] raw = Files.readAllBytes(p);
        long n = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        assertEquals(0, (8 + n) % 8, "data region must start 8-byte aligned");
        String header = new String(raw, 8, (int) n, StandardCharsets.UTF_8);
        assertTrue(header.startsWith("{") && header.stripTrailing().endsWith("}"), header);
        assertEquals(8 + n + 8 + 3 + 10, raw.length, "no gaps, no trailing bytes");
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertEquals(List.of("a", "b", "c"), List.copyOf(f.names()));
            assertEquals(new TensorInfo("a", DType.F32, new long[] {2}, 0, 8), f.info("a"));
            assertEquals(new TensorInfo("b", DType.U8, new long[] {3}, 8, 11), f.info("b"));
            assertEquals(new TensorInfo("c", DType.I16, new long[] {5}, 11, 21), f.info("c"));
        }
    }

    @Test
    void readerAcceptsPaddingAndGapsFromOtherWriters() throws IOException {
        // A tensor at offset 8 with an unused gap before it and after it, and a space-padded header.
        String h = "{\"__metadata__\":{\"k\":\"v\"},\"x\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[8,12]}}     ";
        byte[] data = new byte[20];
        data[8] = 42;
        Path p = RawFiles.write(dir, "gap.safetensors", RawFiles.bytes(h, data));
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertEquals(42, f.tensor("x").data().get(ValueLayout.JAVA_INT_UNALIGNED, 0));
            assertEquals(Map.of("k", "v"), f.metadata());
            assertEquals(p, f.path());
        }
    }

    @Test
    void overwritingAFileFromItsOwnMappingWorks() throws IOException {
        Path p = dir.resolve("self.safetensors");
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsWriter.write(p, Map.of("w", patterned(arena, DType.F32, 5, 4, 4)));
        }
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            SafetensorsWriter.write(p, Map.of("w", f.tensor("w"), "w2", f.tensor("w")), Map.of("v", "2"));
        }
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertEquals(-1, f.tensor("w").data().mismatch(f.tensor("w2").data()));
            assertEquals(Map.of("v", "2"), f.metadata());
        }
    }

    @Test
    void closedFileAndUnknownNamesFailClearly() throws IOException {
        Path p = dir.resolve("c.safetensors");
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsWriter.write(p, Map.of("w", patterned(arena, DType.F32, 5, 4)));
        }
        SafetensorsFile f = SafetensorsFile.open(p);
        Tensor view = f.tensor("w");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> f.tensor("nope"));
        assertTrue(e.getMessage().contains("nope") && e.getMessage().contains(p.toString()), e.getMessage());
        f.close();
        f.close(); // idempotent
        assertThrows(IllegalStateException.class, () -> f.tensor("w"));
        assertThrows(IllegalStateException.class, () -> view.getFloat(0)); // unmapped, not a segfault
        MemorySegment seg = view.data();
        assertThrows(IllegalStateException.class, () -> seg.get(ValueLayout.JAVA_BYTE, 0));
    }

    @Test
    void tensorInfoRefusesImpossibleEntries() {
        assertThrows(IllegalArgumentException.class, () -> new TensorInfo("x", DType.F32, new long[] {-1}, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> new TensorInfo("x", DType.F32, new long[] {1}, 8, 4));
        long[] shape = {2, 3};
        TensorInfo info = new TensorInfo("x", DType.F32, shape, 0, 24);
        shape[0] = 99;
        info.shape()[1] = 99;
        assertArrayEquals(new long[] {2, 3}, info.shape(), "the record's shape cannot be changed from outside");
        assertEquals(6, info.numel());
        assertEquals(24, info.byteSize());
    }
}
