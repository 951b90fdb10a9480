package dev.diagonal.io;

import dev.diagonal.io.WeightException.Reason;
import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class WeightsTest {
    @TempDir
    Path dir;
    Path shard1;
    Path shard2;

    @BeforeEach
    void writeShards() throws IOException {
        shard1 = dir.resolve("s1.safetensors");
        shard2 = dir.resolve("s2.safetensors");
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsWriter.write(shard1, Map.of(
                    "model.blocks.0._fsdp_wrapped_module.self_attn.q.weight", Tensor.allocate(arena, DType.BF16, 6, 4),
                    "model.blocks.0.self_attn.q.bias", Tensor.ofFloats(arena, new float[] {1, 2, 3, 4, 5, 6}, 6)));
            SafetensorsWriter.write(shard2, Map.of(
                    "model.head.weight", Tensor.allocate(arena, DType.F16, 2, 6),
                    "model.step", Tensor.allocate(arena, DType.I64)));
        }
    }

    private static WeightException fails(Reason reason, Runnable r, String... mentions) {
        WeightException e = assertThrows(WeightException.class, r::run);
        assertEquals(reason, e.reason(), e.getMessage());
        for (String m : mentions) {
            assertTrue(e.getMessage().contains(m), "'" + m + "' not in: " + e.getMessage());
        }
        return e;
    }

    @Test
    void getsByNormalizedNameWithShapeAndFloatDtypeChecks() throws IOException {
        try (Weights w = Weights.open(shard1, shard2)) {
            assertEquals(Set.of("blocks.0.self_attn.q.weight", "blocks.0.self_attn.q.bias", "head.weight", "step"),
                    w.names());
            assertTrue(w.has("head.weight"));
            assertFalse(w.has("model.head.weight"));
            assertEquals(DType.BF16, w.get("blocks.0.self_attn.q.weight", 6, 4).dtype());
            assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, w.get("blocks.0.self_attn.q.bias", 6).toFloatArray());
            assertEquals(DType.F16, w.get("head.weight", 2, 6).dtype());
            assertEquals(DType.I64, w.get("step", DType.I64).dtype()); // empty shape: a scalar
            assertEquals(shard2, w.source("head.weight"));
            assertEquals("model.head.weight", w.info("head.weight").name());
            w.requireAllUsed();
        }
    }

    @Test
    void missingWeight() throws IOException {
        try (Weights w = Weights.open(shard1, shard2)) {
            fails(Reason.MISSING, () -> w.get("blocks.1.self_attn.q.weight", 6, 4),
                    "'blocks.1.self_attn.q.weight'", shard1.toString(), shard2.toString());
        }
    }

    @Test
    void wrongShapeNamesExpectedAndActual() throws IOException {
        try (Weights w = Weights.open(shard1, shard2)) {
            fails(Reason.WRONG_SHAPE, () -> w.get("blocks.0.self_attn.q.weight", 4, 6), shard1.toString(),
                    "'blocks.0.self_attn.q.weight'", "model.blocks.0._fsdp_wrapped_module.self_attn.q.weight",
                    "[6, 4]", "expected [4, 6]");
            fails(Reason.WRONG_SHAPE, () -> w.get("blocks.0.self_attn.q.bias", 6, 1), "expected [6, 1]");
            fails(Reason.WRONG_SHAPE, () -> w.get("blocks.0.self_attn.q.bias"), "expected []");
        }
    }

    @Test
    void wrongDtype() throws IOException {
        try (Weights w = Weights.open(shard1, shard2)) {
            fails(Reason.WRONG_DTYPE, () -> w.get("step"), shard2.toString(), "'step'", "I64", "BF16, F16, F32");
            fails(Reason.WRONG_DTYPE, () -> w.get("head.weight", DType.F32, 2, 6), "F16", "expected F32");
            assertEquals(DType.F16, w.get("head.weight", EnumSet.of(DType.F16, DType.F32), 2, 6).dtype());
        }
    }

    @Test
    void unusedAndUnknownWeightsAreNamed() throws IOException {
        try (Weights w = Weights.open(shard1, shard2)) {
            w.get("head.weight", 2, 6);
            assertEquals(Set.of("blocks.0.self_attn.q.weight", "blocks.0.self_attn.q.bias", "step"), w.unused());
            fails(Reason.UNEXPECTED, w::requireAllUsed, "3 weight(s)", "'step'", "'blocks.0.self_attn.q.bias'");
            w.requireAllUsed(n -> n.startsWith("blocks.") || n.equals("step"));
            w.markUsed(List.of("step"));
            fails(Reason.UNEXPECTED, () -> w.requireAllUsed(n -> n.endsWith("weight")), "'blocks.0.self_attn.q.bias'");
            fails(Reason.MISSING, () -> w.markUsed(List.of("nope")), "'nope'");

            fails(Reason.UNEXPECTED, () -> w.checkNoUnknown(Set.of("head.weight", "step")), "2 unexpected",
                    "'blocks.0.self_attn.q.weight'", "'blocks.0.self_attn.q.bias'");
            w.checkNoUnknown(Set.of("head.weight", "step", "blocks.0.self_attn.q.weight", "blocks.0.self_attn.q.bias",
                    "extra.expected.but.absent"));
        }
    }

    @Test
    void collisionsAcrossShardsAreRefusedAndNothingStaysOpen() throws IOException {
        Path dup = dir.resolve("dup.safetensors");
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsWriter.write(dup, Map.of("module.head.weight", Tensor.allocate(arena, DType.F32, 1)));
        }
        fails(Reason.KEY_COLLISION, () -> {
            try {
                Weights.open(shard2, dup).close();
            } catch (IOException e) {
                throw new AssertionError(e);
            }
        }, "'head.weight'", shard2.toString(), dup.toString(), "model.head.weight", "module.head.weight");
    }

    @Test
    void aBadShardFailsTheOpen() throws IOException {
        Path bad = RawFiles.write(dir, "bad.safetensors", new byte[3]);
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> Weights.open(shard1, bad));
        assertEquals(SafetensorsException.Reason.TRUNCATED_HEADER, e.reason());
    }

    @Test
    void closingWeightsUnmapsTheirTensors() throws IOException {
        Weights w = Weights.open(shard1);
        Tensor t = w.get("blocks.0.self_attn.q.bias", 6);
        w.close();
        assertThrows(IllegalStateException.class, () -> t.getFloat(0));
    }
}
