package dev.diagonal.serve;

import dev.diagonal.backend.cpu.CpuBackend;
import dev.diagonal.model.ModelBundle;

import java.lang.management.ManagementFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.net.http.WebSocketHandshakeException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A soak of diagonal serve on loopback (a benchmark, not a test: it reports, it asserts nothing): one stream of
 * 10,000 frames, then 200 short streams each started and dropped after its first frame (half by a TCP abort,
 * half by a stop message), with the heap, the off-heap memory the arenas hold and the process's resident set
 * sampled every 0.5 s. Arena memory is malloc'd outside the JDK's buffer pools, so it is read from Native
 * Memory Tracking (its "Other" category, where Unsafe.allocateMemory lands): run with
 * -XX:NativeMemoryTracking=summary, or the off-heap column is left out. At each mark the heap is read after
 * a full GC, i.e. what is still live.
 *
 * <pre>DIAGONAL_JAVA_OPTS="-XX:NativeMemoryTracking=summary -Xmx256m" \
 *     benchmarks/main dev.diagonal.serve.ServeSoak [--frames 10000] [--streams 200]</pre>
 */
public final class ServeSoak {
    private ServeSoak() {
    }

    public static void main(String[] args) throws Exception {
        int frames = 10_000, streams = 200;
        for (int i = 0; i + 1 < args.length; i += 2) {
            switch (args[i]) {
                case "--frames" -> frames = Integer.parseInt(args[i + 1]);
                case "--streams" -> streams = Integer.parseInt(args[i + 1]);
                default -> throw new IllegalArgumentException("unknown flag " + args[i]);
            }
        }
        ModelBundle bundle = ModelBundle.load(Path.of("weights"));
        // 5 frames from the first chunk, 6 from each later one (this model's VAE).
        int chunks = 1 + (int) Math.ceil((frames - bundle.vae().videoFrames(3)) / (double) (bundle.vae().videoFrames(6)
                - bundle.vae().videoFrames(3)));
        try (CpuBackend backend = new CpuBackend(Runtime.getRuntime().availableProcessors());
             ServeModel model = ServeModel.open(bundle, backend);
             StreamServer server = new StreamServer(model, new ServeLimits(2, 500, Math.max(chunks, 50), 1), "127.0.0.1", 0, false,
                     new java.io.PrintStream(java.io.OutputStream.nullOutputStream()))) {
            server.start();
            Sampler sampler = new Sampler();
            sampler.mark("baseline (model loaded, no stream)");
            Thread t = Thread.ofPlatform().daemon().start(sampler);

            long t0 = System.nanoTime();
            Client one = new Client(server, "prompt=a%20red%20circle%20moving%20right%20on%20a%20black%20background&chunks="
                    + chunks + "&realtime=0");
            one.closed.await();
            System.out.printf(Locale.ROOT, "one stream: %d frames in %d chunks over %.0f s%n", one.frames.get(), chunks,
                    (System.nanoTime() - t0) / 1e9);
            StreamSummary longRun = last(server);
            System.out.printf(Locale.ROOT, "  through the server: %.1f frames/s after the first chunk, first frame %.0f ms,"
                    + " end %s, memory released %s%n", longRun.framesPerSecond(), longRun.firstFrameMs(), longRun.end(),
                    longRun.released());
            sampler.mark("after the " + frames + "-frame stream");

            int refused = 0;
            List<Double> firstFrames = new ArrayList<>();
            t0 = System.nanoTime();
            for (int i = 0; i < streams; i++) {
                Client c;
                while (true) {
                    try {
                        c = new Client(server, "prompt=a%20blue%20square%20moving%20left&seed=" + i + "&chunks=50&realtime=0");
                        break;
                    } catch (CompletionException e) {
                        if (!(e.getCause() instanceof WebSocketHandshakeException h) || h.getResponse().statusCode() != 503) {
                            throw e;
                        }
                        refused++; // 503: both slots still finishing their chunk in flight
                        Thread.sleep(20);
                    }
                }
                c.firstFrame.await();
                if (i % 2 == 0) {
                    c.ws.abort();
                } else {
                    c.ws.sendText("{\"type\":\"stop\"}", true);
                }
            }
            while (server.activeStreams() > 0) {
                Thread.sleep(50);
            }
            for (StreamSummary s : server.finished()) {
                if (s.id() > longRun.id()) {
                    firstFrames.add(s.firstFrameMs());
                }
            }
            System.out.printf(Locale.ROOT, "%d short streams started and dropped in %.0f s (%d upgrades refused with 503"
                            + " while both slots were busy); first frame of the last %d: median %.0f ms%n", streams,
                    (System.nanoTime() - t0) / 1e9, refused, firstFrames.size(), median(firstFrames));
            sampler.mark("after " + streams + " dropped streams");
            sampler.stop = true;
            t.join();
            sampler.report();
        }
    }

    static StreamSummary last(StreamServer server) throws InterruptedException {
        while (server.finished().isEmpty() || server.activeStreams() > 0) {
            Thread.sleep(20);
        }
        return server.finished().getLast();
    }

    static double median(List<Double> xs) {
        if (xs.isEmpty()) {
            return Double.NaN;
        }
        List<Double> s = new ArrayList<>(xs);
        Collections.sort(s);
        return s.get(s.size() / 2);
    }

    /** A client that counts frames and signals its first one and its close. */
    static final class Client implements WebSocket.Listener {
        final AtomicLong frames = new AtomicLong();
        final CountDownLatch firstFrame = new CountDownLatch(1);
        final CountDownLatch closed = new CountDownLatch(1);
        final WebSocket ws;

        Client(StreamServer server, String query) {
            ws = HttpClient.newHttpClient().newWebSocketBuilder()
                    .buildAsync(URI.create("ws://127.0.0.1:" + server.port() + "/stream?" + query), this).join();
        }

        @Override
        public CompletionStage<?> onBinary(WebSocket w, ByteBuffer data, boolean last) {
            if (last) {
                frames.incrementAndGet();
                firstFrame.countDown();
            }
            w.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onText(WebSocket w, CharSequence data, boolean last) {
            w.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onClose(WebSocket w, int code, String reason) {
            closed.countDown();
            firstFrame.countDown();
            return CompletableFuture.completedFuture(null);
        }

        @Override
        public void onError(WebSocket w, Throwable error) {
            closed.countDown();
            firstFrame.countDown();
        }
    }

    /** Heap used, direct (Arena) memory and RSS every half second: max per phase, and the value at each mark. */
    static final class Sampler implements Runnable {
        volatile boolean stop;
        private final List<String> lines = new ArrayList<>();
        private long maxHeap, maxDirect, maxRss;

        @Override
        public void run() {
            while (!stop) {
                sample();
                try {
                    Thread.sleep(500);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }

        private synchronized long[] sample() {
            long heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
            long off = offHeap();
            long rss = rss();
            maxHeap = Math.max(maxHeap, heap);
            maxDirect = Math.max(maxDirect, off);
            maxRss = Math.max(maxRss, rss);
            return new long[]{heap, off, rss};
        }

        synchronized void mark(String what) {
            System.gc();
            long[] now = sample();
            lines.add(String.format(Locale.ROOT, "%-36s live heap %6.1f MB (max used so far %6.1f)  off-heap %6.2f MB (max %6.2f)"
                    + "  RSS %6.0f MB (max %6.0f)", what, now[0] / 1e6, maxHeap / 1e6, now[1] / 1e6, maxDirect / 1e6,
                    now[2] / 1e6, maxRss / 1e6));
        }

        void report() {
            System.out.println();
            lines.forEach(System.out::println);
        }

        /** NMT's committed "Other" memory (arenas, via Unsafe.allocateMemory), or -1 without NMT. */
        private static long offHeap() {
            try {
                javax.management.ObjectName name = new javax.management.ObjectName("com.sun.management:type=DiagnosticCommand");
                String out = (String) ManagementFactory.getPlatformMBeanServer().invoke(name, "vmNativeMemory",
                        new Object[]{new String[]{"summary"}}, new String[]{String[].class.getName()});
                java.util.regex.Matcher m = java.util.regex.Pattern.compile("-\\s+Other \\(reserved=\\d+KB, committed=(\\d+)KB")
                        .matcher(out);
                return m.find() ? Long.parseLong(m.group(1)) * 1024 : -1;
            } catch (javax.management.JMException e) {
                return -1;
            }
        }

        private static long rss() {
            try {
                for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
                    if (l.startsWith("VmRSS:")) {
                        return Long.parseLong(l.replaceAll("[^0-9]", "")) * 1024;
                    }
                }
            } catch (java.io.IOException | NumberFormatException e) {
                // not Linux: RSS is left out
            }
            return 0;
        }
    }
}
