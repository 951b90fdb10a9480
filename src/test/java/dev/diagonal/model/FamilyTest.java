package dev.diagonal.model;

import dev.diagonal.model.dit.WanConfig;
import dev.diagonal.schedule.ContextRule;
import dev.diagonal.schedule.DiagonalSchedule;
import dev.diagonal.stream.StreamSettings;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Pins each family preset to the numbers in its project's inference config (sources in the README table). */
class FamilyTest {

    private static double[] steps(Family f, int chunk) {
        return f.schedule().steps(chunk).timesteps();
    }

    @Test
    void selfForcingIsUniformFourWarpedStepsWithACleanCache() {
        Family f = Family.preset("self-forcing");
        assertArrayEquals(new double[]{1000, 937.5, 833.3333333333334, 625}, steps(f, 0), 1e-9);
        assertArrayEquals(steps(f, 0), steps(f, 6));
        assertEquals(new ContextRule.Reencode(0), f.context());
        assertEquals(List.of("generator_ema"), f.stateDicts());
        assertEquals(0, f.window());
        assertNull(f.lora());
    }

    @Test
    void causvidUsesItsUnwarpedThreeSteps() {
        Family f = Family.CAUSVID;
        assertArrayEquals(new double[]{1000, 757, 522}, steps(f, 0));
        assertEquals(List.of("generator"), f.stateDicts());
        assertEquals(new ContextRule.Reencode(0), f.context());
    }

    @Test
    void longLiveAndDiagonalShareTheBaseLoraAndWindow() {
        for (Family f : List.of(Family.LONGLIVE, Family.DIAGONAL)) {
            assertEquals(12, f.window(), f.name());
            assertEquals(3, f.sink(), f.name());
            assertEquals(256, f.lora().rank());
            assertEquals(1.0, f.lora().scale());
            assertEquals("generator_lora", f.lora().stateDict());
            assertEquals(List.of("generator"), f.stateDicts(), "use_ema: false");
        }
        assertEquals(DiagonalSchedule.UNIFORM_4, Family.LONGLIVE.schedule());
        assertEquals(DiagonalSchedule.DIAGONAL_4_3_2, Family.DIAGONAL.schedule());
        assertArrayEquals(new double[]{1000, 933, 733, 357.14285714285717}, steps(Family.DIAGONAL, 0), 1e-9);
        assertArrayEquals(new double[]{1000, 357.14285714285717}, steps(Family.DIAGONAL, 2), 1e-9);
        assertEquals(ContextRule.REUSE, Family.DIAGONAL.context());
    }

    @Test
    void kreaIsThe14BConfig() {
        assertEquals(WanConfig.T2V_14B, WanConfig.preset(Family.KREA.config()));
        assertEquals(5120, WanConfig.T2V_14B.dim());
        assertEquals(128, WanConfig.T2V_14B.headDim());
    }

    @Test
    void everyPresetMakesValidStreamSettings() {
        for (Family f : Family.presets()) {
            WanConfig.preset(f.config());
            new StreamSettings(7, f.chunkFrames(), 60, 104, f.schedule(), f.context(), f.window(), f.sink());
        }
        assertThrows(IllegalArgumentException.class, () -> Family.preset("wan-2.2"));
    }
}
