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
import java.util.NoSuchElementException;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Stream behaviour that needs no reference: seeding, step counts, streaming order, what each rule changes. */
class ChunkStreamTest {
    private static Arena arena;
    private static CpuBackend backend;
    private static WanDiT dit;
    private static TextContext text;

    @BeforeAll
    static void model() {
        arena = Arena.ofShared();
        backend = new CpuBackend(2);
        dit = WanDiT.load(WanConfig.TINY, RandomParameters.create(WanConfig.TINY, DType.F32, 3, arena), backend, arena);
        Tensor prompt = Tensor.allocate(arena, DType.F32, 8, 32);
        for (int i = 0; i < prompt.numel(); i++) {
            prompt.setFloat(i, (float) Math.sin(i));
        }
        text = dit.encodeText(prompt, arena);
    }

    @AfterAll
    static void close() {
        backend.close();
        arena.close();
    }

    @Test
    void sameSeedSameVideoOtherSeedOtherVideo() {
        StreamSettings s = settings(DiagonalSchedule.DIAGONAL_4_3_2, ContextRule.REUSE, 3);
        List<float[]> a = run(s, 1);
        List<float[]> b = run(s, 1);
        List<float[]> c = run(s, 2);
        for (int k = 0; k < 3; k++) {
            assertArrayEquals(a.get(k), b.get(k), "chunk " + k);
            assertFalse(java.util.Arrays.equals(a.get(k), c.get(k)), "chunk " + k + " ignores the seed");
        }
    }

    @Test
    void chunksArriveInOrderWithTheirStepCounts() {
        StreamSettings s = settings(DiagonalSchedule.DIAGONAL_4_3_2, ContextRule.REUSE, 4);
        List<Integer> evaluations = new ArrayList<>();
        List<Integer> firsts = new ArrayList<>();
        try (ChunkStream stream = new ChunkStream(dit, text, s, new SeededNoise(0), StepObserver.NONE)) {
            stream.drainTo(c -> {
                evaluations.add(c.evaluations());
                firsts.add(c.firstFrame());
            });
            assertThrows(NoSuchElementException.class, stream::next);
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
        assertEquals(List.of(4, 3, 2, 2), evaluations);
        assertEquals(List.of(0, 3, 6, 9), firsts);
    }

    @Test
    void contextRuleChangesLaterChunksOnly() {
        List<float[]> reuse = run(settings(DiagonalSchedule.DIAGONAL_4_3_2, ContextRule.REUSE, 2), 5);
        List<float[]> clean = run(settings(DiagonalSchedule.DIAGONAL_4_3_2, new ContextRule.Reencode(0), 2), 5);
        assertArrayEquals(reuse.get(0), clean.get(0), "the first chunk has no context");
        assertTrue(maxDiff(reuse.get(1), clean.get(1)) > 1e-4, "the second chunk must see different context");
    }

    @Test
    void laterChunksAttendToEarlierOnes() {
        // Same noise for chunk 1, different chunk 0 (other seed for draw 0 of chunk 0 only): chunk 1 must change.
        StreamSettings s = settings(DiagonalSchedule.UNIFORM_4, ContextRule.REUSE, 2);
        NoiseSource base = new SeededNoise(9);
        NoiseSource other = (out, chunk, draw) -> (chunk == 0 ? new SeededNoise(10) : base).fill(out, chunk, draw);
        List<float[]> a = run(s, base);
        List<float[]> b = run(s, other);
        assertTrue(maxDiff(a.get(1), b.get(1)) > 1e-4, "chunk 1 ignores chunk 0");
    }

    private static StreamSettings settings(DiagonalSchedule schedule, ContextRule rule, int chunks) {
        return new StreamSettings(chunks, 3, 8, 8, schedule, rule, 0, 0);
    }

    private static List<float[]> run(StreamSettings s, long seed) {
        return run(s, new SeededNoise(seed));
    }

    private static List<float[]> run(StreamSettings s, NoiseSource noise) {
        List<float[]> out = new ArrayList<>();
        try (ChunkStream stream = new ChunkStream(dit, text, s, noise, StepObserver.NONE)) {
            while (stream.hasNext()) {
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
