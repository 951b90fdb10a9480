package dev.diagonal.cli;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;

class ProgressTest {

    @Test
    void reportsRateAndTimeLeftFromAnInjectedClock() {
        AtomicLong now = new AtomicLong(5_000_000_000L);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        Progress p = new Progress(new PrintStream(bytes, true, StandardCharsets.UTF_8), false, now::get, 7, 81);
        now.addAndGet(2_000_000_000L);
        p.update(2, 21); // 10.5 frames/s, 60 frames left -> 5.7 s
        now.addAndGet(6_000_000_000L);
        p.update(7, 81);
        assertEquals("chunk 2/7 | 21/81 frames | 10.50 frames/s | 0:06 left\n"
                + "chunk 7/7 | 81/81 frames | 10.13 frames/s | 0:00 left\n", bytes.toString(StandardCharsets.UTF_8));
    }

    @Test
    void terminalRewritesOneLine() {
        AtomicLong now = new AtomicLong();
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        Progress p = new Progress(new PrintStream(bytes, true, StandardCharsets.UTF_8), true, now::get, 2, 5);
        p.update(0, 0);
        now.addAndGet(1_000_000_000L);
        p.update(2, 5);
        assertEquals("\rchunk 0/2 | 0/5 frames | 0.00 frames/s | ? left\rchunk 2/2 | 5/5 frames | 5.00 frames/s | 0:00 left\n",
                bytes.toString(StandardCharsets.UTF_8));
    }

    @Test
    void clockFormats() {
        assertEquals("0:00", Progress.clock(0.4));
        assertEquals("1:05", Progress.clock(65));
        assertEquals("2:00:01", Progress.clock(7201));
    }
}
