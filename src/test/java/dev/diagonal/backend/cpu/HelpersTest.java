package dev.diagonal.backend.cpu;

import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicIntegerArray;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The startup line and the Parallel helper. */
class HelpersTest {

    @Test
    void describeNamesWidthAndThreads() {
        try (CpuBackend be = new CpuBackend(3)) {
            String d = be.describe();
            assertTrue(d.contains("-bit") && d.contains("3 threads"), d);
            assertEquals("cpu", be.name());
        }
    }

    @Test
    void parallelCoversEveryIndexOnceAndPropagatesFailures() {
        try (Parallel p = new Parallel(3)) {
            AtomicIntegerArray hits = new AtomicIntegerArray(1000);
            p.forRange(1000, 7, (a, b) -> {
                for (int i = a; i < b; i++) {
                    hits.incrementAndGet(i);
                }
            });
            for (int i = 0; i < 1000; i++) {
                assertEquals(1, hits.get(i), "index " + i);
            }
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> p.forRange(100, 1, (a, b) -> {
                if (a == 57) {
                    throw new IllegalStateException("boom");
                }
            }));
            assertEquals("boom", e.getMessage());
            // Still usable after a failure.
            int[] sum = new int[1];
            p.forRange(5, 10, (a, b) -> sum[0] += b - a);
            assertEquals(5, sum[0]);
        }
        assertThrows(IllegalArgumentException.class, () -> new Parallel(0));
    }
}
