package dev.diagonal.cli;

import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The decoder thread: chunks decoded in order from copies, off the caller's thread; failures come back. */
class DecoderThreadTest {

    @Test
    void decodesCopiesInOrderOnItsOwnThread() throws IOException {
        List<String> seen = Collections.synchronizedList(new ArrayList<>());
        Thread caller = Thread.currentThread();
        try (Arena arena = Arena.ofShared();
             DecoderThread decoder = new DecoderThread((latents, done) -> {
                 assertNotEquals(caller, Thread.currentThread());
                 seen.add(done + ":" + latents.getFloat(0) + "," + latents.getFloat(5));
             })) {
            // One buffer reused for every chunk, as ChunkStream does: the decoder must see each chunk's values.
            Tensor buffer = Tensor.allocate(arena, DType.F32, 2, 3);
            for (int chunk = 1; chunk <= 6; chunk++) {
                buffer.setFloat(0, chunk);
                buffer.setFloat(5, -chunk);
                decoder.submit(buffer, chunk);
            }
            decoder.finish();
        }
        assertEquals(List.of("1:1.0,-1.0", "2:2.0,-2.0", "3:3.0,-3.0", "4:4.0,-4.0", "5:5.0,-5.0", "6:6.0,-6.0"), seen);
    }

    @Test
    void aDecoderFailureStopsTheCallerAtItsNextSubmit() throws Exception {
        IOException broken = new IOException("broken pipe");
        CountDownLatch failed = new CountDownLatch(1);
        try (Arena arena = Arena.ofShared();
             DecoderThread decoder = new DecoderThread((latents, done) -> {
                 if (done == 2) {
                     failed.countDown();
                     throw broken;
                 }
             })) {
            Tensor chunk = Tensor.allocate(arena, DType.F32, 4);
            decoder.submit(chunk, 1);
            decoder.submit(chunk, 2);
            assertTrue(failed.await(10, TimeUnit.SECONDS));
            // The failure is seen at the latest once the queue has room for nothing more.
            IOException thrown = assertThrows(IOException.class, () -> {
                for (int i = 3; i < 3 + 4 * DecoderThread.DEPTH; i++) {
                    decoder.submit(chunk, i);
                }
            });
            assertSame(broken, thrown);
            assertSame(broken, assertThrows(IOException.class, decoder::finish));
        }
    }

    @Test
    void closeWithoutFinishStopsTheThreadAndDropsTheQueue() throws Exception {
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        List<Integer> decoded = Collections.synchronizedList(new ArrayList<>());
        try (Arena arena = Arena.ofShared()) {
            Tensor chunk = Tensor.allocate(arena, DType.F32, 4);
            DecoderThread decoder = new DecoderThread((latents, done) -> {
                started.countDown();
                try {
                    release.await(); // an interrupt (close) ends the wait
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new java.io.InterruptedIOException();
                }
                decoded.add(done);
            });
            decoder.submit(chunk, 1);
            assertTrue(started.await(10, TimeUnit.SECONDS));
            decoder.submit(chunk, 2);
            decoder.close(); // the stream failed on the caller's side: nothing more is decoded
            release.countDown();
        }
        assertEquals(List.of(), decoded);
    }
}
