package dev.diagonal.backend.cpu;

import java.util.concurrent.CountDownLatch;
import dev.diagonal.tensor.Tensor;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A fork-join over contiguous index ranges, owned by one backend. The caller thread works too, so
 * {@code threads} means total threads, and a pool of {@code threads - 1} daemon workers helps it.
 */
final class Parallel implements AutoCloseable {

    /** The body of a parallel loop: handles indices [start, end). */
    @FunctionalInterface
    interface RangeBody {
        void run(int start, int end);
    }

    /** Runs everything on the caller: for tensors that other threads may not touch. Immutable. */
    private static final Parallel SERIAL = new Parallel(1);

    private final int threads;
    private final ExecutorService workers;
    /** One of the pool's threads, to ask segments whether the pool may access them. */
    private final Thread probe;

    Parallel(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("thread count must be >= 1, got " + threads);
        }
        this.threads = threads;
        if (threads == 1) {
            workers = null;
            probe = null;
        } else {
            AtomicInteger ids = new AtomicInteger();
            Thread[] first = new Thread[1];
            ThreadPoolExecutor pool = new ThreadPoolExecutor(threads - 1, threads - 1, 0, TimeUnit.SECONDS,
                    new LinkedBlockingQueue<>(), r -> {
                        Thread t = new Thread(r, "diagonal-cpu-" + ids.incrementAndGet());
                        t.setDaemon(true); // never keeps the JVM alive, even if close() is forgotten
                        if (first[0] == null) {
                            first[0] = t;
                        }
                        return t;
                    });
            pool.prestartAllCoreThreads();
            workers = pool;
            probe = first[0];
        }
    }

    /**
     * This pool, or a serial stand-in when some tensor lives in a confined arena (which only its owner
     * thread may touch): such ops are still correct, just single-threaded.
     */
    Parallel usableFor(Tensor... tensors) {
        if (probe == null) {
            return this;
        }
        for (Tensor t : tensors) {
            if (t != null && !t.data().isAccessibleBy(probe)) {
                return SERIAL;
            }
        }
        return this;
    }

    int threads() {
        return threads;
    }

    /**
     * A chunk size for n items so that each thread gets a few chunks (for balance) but no chunk is
     * smaller than minGrain (so tiny loops stay on the caller thread).
     */
    int grain(int n, int minGrain) {
        int perChunk = (n + threads * 4 - 1) / (threads * 4);
        return Math.max(Math.max(1, minGrain), perChunk);
    }

    /**
     * Runs body over [0, n) in chunks of {@code grain} consecutive indices; chunks are claimed dynamically so
     * uneven chunks balance out. Runs inline when there is only one chunk. Rethrows the first failure.
     */
    void forRange(int n, int grain, RangeBody body) {
        if (n <= 0) {
            return;
        }
        int g = Math.max(1, grain);
        int chunks = (int) ((n + (long) g - 1) / g);
        if (chunks == 1 || workers == null) {
            body.run(0, n);
            return;
        }
        Job job = new Job(n, g, chunks, body);
        int helpers = Math.min(threads - 1, chunks - 1);
        for (int i = 0; i < helpers; i++) {
            workers.execute(job::work);
        }
        job.work();
        // Waiting on chunks (not on helper tasks) means a helper that starts late finds nothing to do and a
        // helper that never starts cannot block us: the caller has claimed every chunk it did not get.
        boolean interrupted = false;
        while (true) {
            try {
                job.done.await();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        Throwable error = job.error.get();
        if (error instanceof RuntimeException re) {
            throw re;
        }
        if (error instanceof Error e) {
            throw e;
        }
        if (error != null) {
            throw new IllegalStateException(error);
        }
    }

    @Override
    public void close() {
        if (workers != null) {
            workers.shutdown();
            try {
                workers.awaitTermination(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private static final class Job {
        final int n;
        final int grain;
        final int chunks;
        final RangeBody body;
        final AtomicInteger next = new AtomicInteger();
        final CountDownLatch done;
        final AtomicReference<Throwable> error = new AtomicReference<>();

        Job(int n, int grain, int chunks, RangeBody body) {
            this.n = n;
            this.grain = grain;
            this.chunks = chunks;
            this.body = body;
            this.done = new CountDownLatch(chunks);
        }

        void work() {
            int c;
            while ((c = next.getAndIncrement()) < chunks) {
                try {
                    if (error.get() == null) {
                        int start = (int) Math.min(n, (long) c * grain);
                        body.run(start, Math.min(n, start + grain));
                    }
                } catch (Throwable t) {
                    error.compareAndSet(null, t);
                } finally {
                    done.countDown();
                }
            }
        }
    }
}
