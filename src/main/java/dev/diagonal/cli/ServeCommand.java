package dev.diagonal.cli;

import dev.diagonal.backend.Backend;
import dev.diagonal.model.ModelBundle;
import dev.diagonal.model.dit.TextContext;
import dev.diagonal.serve.ServeLimits;
import dev.diagonal.serve.ServeModel;
import dev.diagonal.serve.StreamServer;

import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.CountDownLatch;

/**
 * {@code diagonal serve}: live streams in the browser. Loads a model directory once, serves the page and
 * its WebSocket streams until SIGTERM or Ctrl-C, then shuts down gracefully (running streams finish their
 * chunk in flight, are told why, and free their memory).
 */
final class ServeCommand {
    static final Set<String> VALUED = Set.of("host", "port", "max-streams", "max-chunks", "model", "threads", "warmup");
    static final Set<String> SWITCHES = Set.of("help", "allow-remote");

    private final PrintStream out;
    private final Path defaultModel;

    ServeCommand(PrintStream out, Path defaultModel) {
        this.out = out;
        this.defaultModel = defaultModel;
    }

    int run(String[] argv) throws Exception {
        Args a = new Args("serve", argv, VALUED, SWITCHES);
        if (a.has("help")) {
            out.println("""
                    usage: diagonal serve [flags]
                      --host H           address to listen on (default 127.0.0.1); one that is not loopback
                                         needs --allow-remote, since the server has no authentication
                      --allow-remote     allow --host to be reachable from other machines
                      --port N           TCP port (default 8080; 0 picks a free one)
                      --max-streams N    streams running at once (default 2); more get 503 with Retry-After
                      --max-chunks N     chunks one stream may ask for (default 1000, about 12,000 frames)
                      --model DIR        model directory (default: the shipped weights/)
                      --threads N        CPU threads (default: all cores)
                      --warmup N         tiny streams run first so the JIT has compiled the kernels (default 3)
                    Open http://HOST:PORT/ in a browser.""");
            return 0;
        }
        String host = a.string("host", "127.0.0.1");
        int port = a.integer("port", 8080, 0, 65535);
        ServeLimits limits = new ServeLimits(a.integer("max-streams", ServeLimits.DEFAULT.maxStreams(), 1, 64),
                ServeLimits.DEFAULT.maxPromptChars(), a.integer("max-chunks", ServeLimits.DEFAULT.maxChunks(), 1, 100_000),
                ServeLimits.DEFAULT.retryAfterSeconds());
        int warmUps = a.integer("warmup", 3, 0, 100);
        ModelOptions model = ModelOptions.parse(a, defaultModel);
        ModelBundle bundle = model.bundle();
        if (bundle == null) {
            throw new Args.UsageException("serve needs a model directory: --model DIR (no weights/ model found)");
        }
        Backend backend = model.backend();
        out.println("backend: " + backend.describe());
        CountDownLatch released = new CountDownLatch(1);
        try (backend; ServeModel m = ServeModel.open(bundle, backend)) {
            out.printf("model: %s from %s, %dx%d at %d fps%n", bundle.name(), bundle.dir(), m.width(), m.height(), m.fps());
            try (Arena arena = Arena.ofShared()) {
                TextContext text = m.encode("", arena);
                WarmUp.run(m.dit(), text, m.decoder(), m.settings(3), warmUps, out);
            }
            StreamServer server = new StreamServer(m, limits, host, port, a.has("allow-remote"), out);
            CountDownLatch stopped = new CountDownLatch(1);
            Thread hook = new Thread(() -> {
                out.println("serve: shutting down");
                server.close();
                stopped.countDown();
                // The JVM halts when the hook returns: give the main thread its moment to free the model.
                try {
                    released.await(10, java.util.concurrent.TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }, "serve-shutdown");
            Runtime.getRuntime().addShutdownHook(hook);
            server.start();
            if (a.has("allow-remote") && !java.net.InetAddress.getByName(host).isLoopbackAddress()) {
                out.println("serve: WARNING: listening on " + host + ", reachable from other machines, with no authentication");
            }
            out.printf("serve: %s (up to %d streams at once; Ctrl-C or SIGTERM stops)%n", server.uri(), limits.maxStreams());
            // The shutdown hook does the closing; the main thread only keeps the JVM serving until then.
            stopped.await();
        } finally {
            released.countDown();
        }
        out.println("serve: stopped");
        return 0;
    }
}
