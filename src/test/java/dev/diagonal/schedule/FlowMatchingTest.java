package dev.diagonal.schedule;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class FlowMatchingTest {

    @Test
    void warpsSelfForcingsNominalListAsMethodSays() {
        double[] warped = FlowMatching.WAN.warp(1000, 750, 500, 250);
        assertArrayEquals(new double[]{1000, 937.5, 833.3333333333334, 625}, warped, 1e-9);
    }

    @Test
    void nominal100IsThePapersExitStep() {
        assertEquals(357.142857142857, FlowMatching.WAN.warp(100), 1e-9);
        assertEquals(357.142857142857, DiagonalSchedule.EXIT, 1e-9);
    }

    @Test
    void sigmaIsTheShiftedTimestepOverTrainSteps() {
        assertEquals(1.0, FlowMatching.WAN.sigma(1000));
        assertEquals(0.0, FlowMatching.WAN.sigma(0));
        assertEquals(0.9375, FlowMatching.WAN.sigma(937.5));
    }

    @Test
    void warpIsMonotoneAndKeepsTheEnds() {
        double last = -1;
        for (int n = 0; n <= 1000; n++) {
            double t = FlowMatching.WAN.warp(n);
            assertEquals(true, t > last, "warp must increase at " + n);
            assertEquals(true, t >= n, "a shift of 5 moves every step toward noise, at " + n);
            last = t;
        }
        assertEquals(0, FlowMatching.WAN.warp(0));
        assertEquals(1000, FlowMatching.WAN.warp(1000), 1e-12);
    }

    @Test
    void rejectsTimestepsOutsideTheScaleAndBadShifts() {
        assertThrows(IllegalArgumentException.class, () -> FlowMatching.WAN.sigma(1000.5));
        assertThrows(IllegalArgumentException.class, () -> FlowMatching.WAN.sigma(-1));
        assertThrows(IllegalArgumentException.class, () -> FlowMatching.WAN.sigma(Double.NaN));
        assertThrows(IllegalArgumentException.class, () -> new FlowMatching(0, 1000));
        assertThrows(IllegalArgumentException.class, () -> new FlowMatching(Double.POSITIVE_INFINITY, 1000));
        assertThrows(IllegalArgumentException.class, () -> new FlowMatching(5, 0));
    }
}
