package dev.diagonal.stream;

import dev.diagonal.backend.cpu.CpuBackend;
import dev.diagonal.model.dit.RandomParameters;
import dev.diagonal.model.dit.TextContext;
import dev.diagonal.model.dit.WanConfig;
import dev.diagonal.model.dit.WanDiT;
import dev.diagonal.schedule.ContextRule;
import dev.diagonal.schedule.DiagonalSchedule;
import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A prompt change mid-stream: what each cache rule rewrites, and what it must leave alone. */
class PromptSwitchTest {
    private static final int SWITCH_AT = 2;
    private static Arena arena;
    private static CpuBackend backend;
    private static WanDiT dit;
    private static TextContext first;
    private static TextContext second;

    @BeforeAll
    static void model() {
        arena = Arena.ofShared();
        backend = new CpuBackend(2);
        dit = WanDiT.load(WanConfig.TINY, RandomParameters.create(WanConfig.TINY, DType.F32, 3, arena), backend, arena);
        first = prompt(1.0);
        second = prompt(2.7);
    }

    private static TextContext prompt(double phase) {
        Tensor p = Tensor.allocate(arena, DType.F32, 8, 32);
        for (int i = 0; i < p.numel(); i++) {
            p.setFloat(i, (float) Math.sin(phase * i));
        }
        return dit.encodeText(p, arena);
    }

    @AfterAll
    static void close() {
        backend.close();
        arena.close();
    }

    @Test
    void chunksBeforeTheSwitchAreUntouchedAndLaterOnesFollowTheNewPrompt() {
        StreamSettings s = settings(ContextRule.REUSE, 0, 0);
        List<float[]> plain = run(s, first, null, null);
        List<float[]> kept = run(s, first, second, SwitchRule.KEEP);
        List<float[]> reencoded = run(s, first, second, SwitchRule.REENCODE);
        for (int k = 0; k < SWITCH_AT; k++) {
            assertArrayEquals(plain.get(k), kept.get(k), "chunk " + k + " is before the switch");
            assertArrayEquals(plain.get(k), reencoded.get(k), "chunk " + k + " is before the switch");
        }
        assertTrue(maxDiff(plain.get(SWITCH_AT), kept.get(SWITCH_AT)) > 1e-4, "the new prompt is ignored");
        assertTrue(maxDiff(kept.get(SWITCH_AT), reencoded.get(SWITCH_AT)) > 1e-4,
                "re-encoding the window under the new prompt must change what the next chunk sees");
    }

    @Test
    void reencodingUnderTheSamePromptRewritesTheSameCache() {
        // Without eviction, replaying each cached chunk's last pass under the prompt that wrote it reproduces
        // its K/V exactly, so the stream goes on as if nothing happened: the replay is the original passes.
        for (ContextRule rule : List.of(ContextRule.REUSE, new ContextRule.Reencode(100))) {
            StreamSettings s = settings(rule, 0, 0);
            List<float[]> plain = run(s, first, null, null);
            List<float[]> same = run(s, first, first, SwitchRule.REENCODE);
            for (int k = 0; k < plain.size(); k++) {
                assertArrayEquals(plain.get(k), same.get(k), rule + ": chunk " + k);
            }
        }
    }

    @Test
    void reencodeCostsOnePassPerCachedChunkAndKeepCostsNothing() {
        // A window of 6 frames with a sink of 3: chunk 2 evicts chunk 1, leaving the sink chunk to re-encode
        // (chunk 1 is evicted first, so it is not re-encoded for nothing).
        StreamSettings s = settings(ContextRule.REUSE, 6, 3);
        assertEquals(List.of(4, 3, 2, 2), evaluations(s, SwitchRule.KEEP));
        assertEquals(List.of(4, 3, 2 + 1, 2), evaluations(s, SwitchRule.REENCODE));
        // The whole stream cached: chunks 0 and 1 are re-encoded before chunk 2.
        assertEquals(List.of(4, 3, 2 + 2, 2), evaluations(settings(ContextRule.REUSE, 0, 0), SwitchRule.REENCODE));
    }

    @Test
    void longStreamsWithManySwitchesKeepWorking() {
        // Windows that split chunks (7 frames, sink 2) leave partial chunks in the cache; each is one pass.
        StreamSettings s = new StreamSettings(8, 3, 8, 8, DiagonalSchedule.DIAGONAL_4_3_2, ContextRule.REUSE, 7, 2);
        try (ChunkStream stream = new ChunkStream(dit, first, s, new SeededNoise(4), StepObserver.NONE)) {
            int k = 0;
            while (stream.hasNext()) {
                stream.switchText(k % 2 == 0 ? second : first, k % 3 == 0 ? SwitchRule.KEEP : SwitchRule.REENCODE);
                Chunk c = stream.next();
                for (float x : c.latents().toFloatArray()) {
                    assertTrue(Float.isFinite(x), "chunk " + k);
                }
                k++;
            }
        }
    }

    @Test
    void aSwitchNeedsAContextAndARule() {
        try (ChunkStream stream = new ChunkStream(dit, first, settings(ContextRule.REUSE, 0, 0), new SeededNoise(0),
                StepObserver.NONE)) {
            assertThrows(IllegalArgumentException.class, () -> stream.switchText(null, SwitchRule.KEEP));
            assertThrows(IllegalArgumentException.class, () -> stream.switchText(second, null));
        }
        assertEquals(SwitchRule.REENCODE, SwitchRule.parse(" Reencode"));
        assertThrows(IllegalArgumentException.class, () -> SwitchRule.parse("recache"));
    }

    private static StreamSettings settings(ContextRule rule, int window, int sink) {
        return new StreamSettings(4, 3, 8, 8, DiagonalSchedule.DIAGONAL_4_3_2, rule, window, sink);
    }

    private static List<Integer> evaluations(StreamSettings s, SwitchRule rule) {
        List<Integer> out = new ArrayList<>();
        try (ChunkStream stream = new ChunkStream(dit, first, s, new SeededNoise(5), StepObserver.NONE)) {
            while (stream.hasNext()) {
                if (out.size() == SWITCH_AT) {
                    stream.switchText(second, rule);
                }
                out.add(stream.next().evaluations());
            }
        }
        return out;
    }

    private static List<float[]> run(StreamSettings s, TextContext start, TextContext then, SwitchRule rule) {
        List<float[]> out = new ArrayList<>();
        try (ChunkStream stream = new ChunkStream(dit, start, s, new SeededNoise(7), StepObserver.NONE)) {
            while (stream.hasNext()) {
                if (out.size() == SWITCH_AT && then != null) {
                    stream.switchText(then, rule);
                }
                out.add(stream.next().latents().toFloatArray());
            }
        }
        return out;
    }

    private static double maxDiff(float[] a, float[] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs(a[i] - b[i]));
        }
        return m;
    }
}
