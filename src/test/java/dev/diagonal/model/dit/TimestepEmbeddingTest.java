package dev.diagonal.model.dit;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class TimestepEmbeddingTest {

    @Test
    void sinusoidalMatchesWanFormula() {
        // Wan: half = dim/2, angle = pos * 10000^(-i/half), row = [cos(angle), sin(angle)].
        int dim = 256;
        double[] pos = {0, 1, 999, 123.5};
        float[] e = TimestepEmbedding.sinusoidal(dim, pos);
        assertEquals(pos.length * dim, e.length);
        for (int p = 0; p < pos.length; p++) {
            for (int i = 0; i < dim / 2; i++) {
                double angle = pos[p] * Math.pow(10000, -(double) i / (dim / 2));
                assertEquals(Math.cos(angle), e[p * dim + i], 1e-7);
                assertEquals(Math.sin(angle), e[p * dim + dim / 2 + i], 1e-7);
            }
        }
        assertEquals(1f, e[0]);          // cos(0)
        assertEquals(0f, e[dim / 2]);    // sin(0)
        assertEquals((float) Math.cos(999), e[2 * dim], 0f);
        assertThrows(IllegalArgumentException.class, () -> TimestepEmbedding.sinusoidal(7, 1.0));
    }
}
