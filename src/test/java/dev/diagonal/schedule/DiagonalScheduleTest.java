package dev.diagonal.schedule;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DiagonalScheduleTest {

    @Test
    void defaultIsThePapers432() {
        DiagonalSchedule s = DiagonalSchedule.DIAGONAL_4_3_2;
        assertArrayEquals(new double[]{1000, 933, 733, DiagonalSchedule.EXIT}, s.steps(0).timesteps());
        assertArrayEquals(new double[]{1000, 933, DiagonalSchedule.EXIT}, s.steps(1).timesteps());
        for (int k = 2; k < 50; k++) {
            assertArrayEquals(new double[]{1000, DiagonalSchedule.EXIT}, s.steps(k).timesteps());
        }
    }

    @Test
    void countsSeventeenEvaluationsForSevenChunks() {
        // method.md: 17 network evaluations for 81 frames (7 chunks) against 35 for Self-Forcing (4 + re-encode).
        assertEquals(17, DiagonalSchedule.DIAGONAL_4_3_2.denoisingEvaluations(7));
        assertEquals(28, DiagonalSchedule.UNIFORM_4.denoisingEvaluations(7));
    }

    @Test
    void paperFigurePresetIs5432() {
        DiagonalSchedule s = DiagonalSchedule.DIAGONAL_5_4_3_2;
        int[] counts = {5, 4, 3, 2, 2, 2};
        for (int k = 0; k < counts.length; k++) {
            assertEquals(counts[k], s.steps(k).size());
            assertEquals(1000, s.steps(k).get(0));
            assertEquals(DiagonalSchedule.EXIT, s.steps(k).get(counts[k] - 1), 1e-9);
        }
    }

    @Test
    void uniformIsSelfForcingsWarpedList() {
        assertArrayEquals(new double[]{1000, 937.5, 833.3333333333334, 625},
                DiagonalSchedule.UNIFORM_4.steps(6).timesteps(), 1e-9);
    }

    @Test
    void parsesPresetsAndCustomLists() {
        assertEquals(DiagonalSchedule.UNIFORM_4, DiagonalSchedule.parse("uniform-4"));
        DiagonalSchedule custom = DiagonalSchedule.parse("1000, 900, 300; 1000,300");
        assertEquals(List.of(StepList.of(1000, 900, 300), StepList.of(1000, 300)), custom.lists());
        assertThrows(IllegalArgumentException.class, () -> DiagonalSchedule.parse("fastest"));
        assertThrows(IllegalArgumentException.class, () -> DiagonalSchedule.parse("1000,,300"));
    }

    @Test
    void rejectsInvalidLists() {
        assertThrows(IllegalArgumentException.class, () -> StepList.of());
        assertThrows(IllegalArgumentException.class, () -> StepList.of(900, 300), "must start at the maximum");
        assertThrows(IllegalArgumentException.class, () -> StepList.of(1000, 300, 300), "strictly decreasing");
        assertThrows(IllegalArgumentException.class, () -> StepList.of(1000, 300, 500));
        assertThrows(IllegalArgumentException.class, () -> StepList.of(1000, 0), "ends above zero");
        assertThrows(IllegalArgumentException.class, () -> StepList.of(1000, Double.NaN));
        assertThrows(IllegalArgumentException.class,
                () -> new DiagonalSchedule("grows", List.of(StepList.of(1000, 300), StepList.of(1000, 600, 300))));
        assertThrows(IllegalArgumentException.class, () -> DiagonalSchedule.DIAGONAL_4_3_2.steps(-1));
    }

    @Test
    void truncationKeepsThePrefixAndTheExitStepForRandomLists() {
        SplittableRandom random = new SplittableRandom(7);
        for (int trial = 0; trial < 500; trial++) {
            int n = 1 + random.nextInt(8);
            double[] ts = new double[n];
            ts[0] = 1000;
            for (int i = 1; i < n; i++) {
                ts[i] = ts[i - 1] * (0.1 + 0.85 * random.nextDouble());
            }
            StepList full = StepList.of(ts);
            for (int m = 1; m <= n; m++) {
                StepList cut = full.truncate(m);
                assertEquals(m, cut.size());
                assertEquals(m == 1 ? 1000 : ts[n - 1], cut.get(m - 1));
                for (int i = 0; i < m - 1; i++) {
                    assertEquals(ts[i], cut.get(i));
                }
                for (int i = 1; i < m; i++) {
                    assertTrue(cut.get(i) < cut.get(i - 1));
                }
            }
        }
    }

    @Test
    void contextRulesParse() {
        assertEquals(ContextRule.REUSE, ContextRule.parse("reuse"));
        assertEquals(new ContextRule.Reencode(0), ContextRule.parse("reencode"));
        assertEquals(new ContextRule.Reencode(100), ContextRule.parse("reencode:100"));
        assertThrows(IllegalArgumentException.class, () -> ContextRule.parse("reencode:abc"));
        assertThrows(IllegalArgumentException.class, () -> ContextRule.parse("reencode:1000"));
        assertThrows(IllegalArgumentException.class, () -> ContextRule.parse("clean"));
    }
}
