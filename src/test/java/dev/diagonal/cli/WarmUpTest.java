package dev.diagonal.cli;

import dev.diagonal.model.dit.WanConfig;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Warm-up is on by default where JIT compilation is a real share of the work, and off where it is not. */
class WarmUpTest {
    @Test
    void smallModelsWarmUpLargeOnesDoNot() {
        assertEquals(3, WarmUp.defaultStreams(WanConfig.preset("tiny")));
        assertEquals(0, WarmUp.defaultStreams(WanConfig.preset("t2v-1.3b")));
    }
}
