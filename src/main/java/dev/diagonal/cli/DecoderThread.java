package dev.diagonal.cli;

import dev.diagonal.tensor.Tensor;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.lang.foreign.Arena;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Decodes chunks on a thread of its own while the DiT denoises the next ones, so on a CPU the two stages run
 * side by side on their own cores instead of taking turns with every thread each. For the default model
 * that is the faster split by far: its DiT's ops are too short to pay for a fork-join across threads, and the
 * decoder, about twice the DiT's work, hides all of the DiT behind it.
 *
 * <p>Each submitted chunk is copied (a chunk's latents are a view of the stream's buffer, overwritten by the
 * next chunk) and queued at most {@link #DEPTH} deep, so the DiT runs at most that far ahead; chunks are
 * decoded in order. The decoder thread's first failure is rethrown on the caller's thread by the next
 * {@link #submit} or by {@link #finish}, which stops the stream there.
 */
final class DecoderThread implements AutoCloseable {
    /** Decodes one chunk; called on the decoder thread, in chunk order. */
    @FunctionalInterface
    interface ChunkDecoder {
        void decode(Tensor latents, int chunksDone) throws IOException;
    }

    /** Chunks queued ahead of the decoder: one waiting while one is decoded keeps both stages busy. */
    static final int DEPTH = 2;

    private record Job(Tensor latents, Arena arena, int chunksDone) {
    }

    private static final Job END = new Job(null, null, 0);

    private final BlockingQueue<Job> queue = new ArrayBlockingQueue<>(DEPTH);
    private final Thread thread;
    private volatile Throwable failure;

    DecoderThread(ChunkDecoder decoder) {
        thread = new Thread(() -> loop(decoder), "diagonal-decoder");
        thread.setDaemon(true); // an abandoned stream never keeps the JVM alive
        thread.start();
    }

    private void loop(ChunkDecoder decoder) {
        try {
            for (Job job = queue.take(); job != END; job = queue.take()) {
                try (Arena arena = job.arena()) {
                    decoder.decode(job.latents(), job.chunksDone());
                }
            }
        } catch (InterruptedException e) {
            // close() before finish(): the stream was abandoned, the queued chunks are dropped below
        } catch (Throwable t) {
            failure = t;
        } finally {
            drop();
        }
    }

    /**
     * Queues a copy of {@code latents} to be decoded after the chunks before it; blocks while {@link #DEPTH}
     * chunks wait. Throws what the decoder thread failed with, if it has.
     */
    void submit(Tensor latents, int chunksDone) throws IOException {
        rethrowFailure();
        Arena arena = Arena.ofShared();
        try {
            Tensor copy = Tensor.allocate(arena, latents.dtype(), latents.shape());
            copy.copyFrom(latents);
            put(new Job(copy, arena, chunksDone));
        } catch (IOException | RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    /** Waits until every submitted chunk is decoded; throws what the decoder thread failed with, if it has. */
    void finish() throws IOException {
        put(END);
        join();
        rethrowFailure();
    }

    /** Stops the thread without decoding what is still queued (after a failure, or after finish: a no-op). */
    @Override
    public void close() {
        thread.interrupt();
        join();
        drop();
    }

    private void put(Job job) throws IOException {
        try {
            while (!queue.offer(job, 20, TimeUnit.MILLISECONDS)) {
                if (!thread.isAlive()) {
                    rethrowFailure();
                    throw new IllegalStateException("the decoder thread has stopped");
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting for the decoder");
        }
    }

    private void join() {
        boolean interrupted = false;
        while (thread.isAlive()) {
            try {
                thread.join();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private void drop() {
        for (Job job = queue.poll(); job != null; job = queue.poll()) {
            if (job.arena() != null) {
                job.arena().close();
            }
        }
    }

    private void rethrowFailure() throws IOException {
        Throwable f = failure;
        if (f instanceof IOException e) {
            throw e;
        }
        if (f instanceof RuntimeException e) {
            throw e;
        }
        if (f instanceof Error e) {
            throw e;
        }
        if (f != null) {
            throw new IllegalStateException(f);
        }
    }
}
