package dev.diagonal.serve;

import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.handler.ContextHandler;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.eclipse.jetty.websocket.server.WebSocketUpgradeHandler;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code diagonal serve}'s web server: the page ({@code /}, {@code /app.js}, {@code /style.css}), the server's
 * state ({@code /status}), and live streams as WebSockets ({@code /stream?prompt=...}), on one port of Jetty's
 * core server.
 *
 * <p>A stream takes one of {@link ServeLimits#maxStreams()} slots from the moment its upgrade is accepted
 * until its generation thread has ended and freed its memory; an upgrade that finds no slot free is answered
 * 503 with Retry-After, so nothing ever waits in a queue. Requests are checked in full before the upgrade.
 */
public final class StreamServer implements AutoCloseable {
    /** Summaries kept for /status and tests: the most recent ones only. */
    private static final int KEPT_SUMMARIES = 32;
    /** An accepted upgrade whose socket has not opened by then has failed; its slot comes back. */
    private static final long OPEN_DEADLINE_SECONDS = 30;

    private final ServeModel model;
    private final ServeLimits limits;
    private final PrintStream log;
    private final Semaphore slots;
    private final Server jetty;
    private final ServerConnector connector;
    private final Map<Long, Running> running = new ConcurrentHashMap<>();
    private final ArrayDeque<StreamSummary> finished = new ArrayDeque<>();
    private final AtomicLong ids = new AtomicLong();
    private final ScheduledExecutorService timer;
    private volatile boolean closing;

    private record Running(StreamSession session, Thread thread) {
    }

    /**
     * A server for {@code model} on {@code host:port} (port 0: any free one), not yet started. Refuses an
     * address that is not loopback unless {@code allowRemote}: the server has no authentication.
     */
    public StreamServer(ServeModel model, ServeLimits limits, String host, int port, boolean allowRemote, PrintStream log)
            throws IOException {
        if (!allowRemote && !InetAddress.getByName(host).isLoopbackAddress()) {
            throw new IllegalArgumentException("refusing to listen on " + host + ", which is not a loopback address: the"
                    + " server has no authentication and anyone who can reach it can run streams; pass --allow-remote"
                    + " to listen there anyway");
        }
        this.model = model;
        this.limits = limits;
        this.log = log;
        this.slots = new Semaphore(limits.maxStreams());
        QueuedThreadPool pool = new QueuedThreadPool(32, 4);
        pool.setName("serve-http");
        pool.setDaemon(true);
        this.jetty = new Server(pool);
        HttpConfiguration http = new HttpConfiguration();
        http.setSendServerVersion(false);
        http.setRequestHeaderSize(8192);
        this.connector = new ServerConnector(jetty, new HttpConnectionFactory(http));
        connector.setHost(host);
        connector.setPort(port);
        connector.setIdleTimeout(30_000);
        jetty.addConnector(connector);
        ContextHandler context = new ContextHandler("/");
        WebSocketUpgradeHandler ws = WebSocketUpgradeHandler.from(jetty, context, container -> {
            container.setMaxTextMessageSize(4096);
            container.setMaxBinaryMessageSize(4096);
            container.setIdleTimeout(Duration.ofSeconds(120));
            container.addMapping("/stream", (request, response, callback) -> upgrade(request, response, callback));
        });
        ws.setHandler(new Pages());
        context.setHandler(ws);
        jetty.setHandler(context);
        jetty.setStopTimeout(5_000);
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "serve-timer");
            t.setDaemon(true);
            return t;
        });
    }

    public void start() throws Exception {
        jetty.start();
    }

    /** The port listened on (the one chosen when 0 was asked for). */
    public int port() {
        return connector.getLocalPort();
    }

    public URI uri() {
        String host = connector.getHost().contains(":") ? "[" + connector.getHost() + "]" : connector.getHost();
        return URI.create("http://" + host + ":" + port() + "/");
    }

    public ServeLimits limits() {
        return limits;
    }

    /** Streams generating now. */
    public int activeStreams() {
        return running.size();
    }

    /** The most recent streams' ends, oldest first. */
    public List<StreamSummary> finished() {
        synchronized (finished) {
            return new ArrayList<>(finished);
        }
    }

    private Object upgrade(Request request, Response response, Callback callback) {
        String origin = request.getHeaders().get(HttpHeader.ORIGIN);
        String host = request.getHeaders().get(HttpHeader.HOST);
        if (origin != null && (host == null || !origin.equals("http://" + host) && !origin.equals("https://" + host))) {
            // Browsers let any page open a WebSocket to localhost; only this server's own page may.
            error(response, callback, 403, "WebSocket from origin " + StreamRequest.clip(origin) + " refused; open "
                    + "the page this server serves");
            return null;
        }
        StreamRequest r;
        try {
            r = StreamRequest.parse(request.getHttpURI().getQuery(), limits, model.bundle().stream().chunks());
        } catch (BadRequest e) {
            error(response, callback, e.status(), e.getMessage());
            return null;
        }
        if (closing) {
            response.getHeaders().put(HttpHeader.RETRY_AFTER, Integer.toString(limits.retryAfterSeconds()));
            error(response, callback, 503, "the server is shutting down");
            return null;
        }
        if (!slots.tryAcquire()) {
            response.getHeaders().put(HttpHeader.RETRY_AFTER, Integer.toString(limits.retryAfterSeconds()));
            error(response, callback, 503, "all " + limits.maxStreams() + " streams are running; retry in "
                    + limits.retryAfterSeconds() + " s");
            return null;
        }
        StreamSocket socket = new StreamSocket(this, r);
        timer.schedule(socket::releaseIfNeverOpened, OPEN_DEADLINE_SECONDS, TimeUnit.SECONDS);
        return socket;
    }

    /** Starts the session of a socket that just opened, on its own thread. */
    StreamSession startStream(StreamSocket socket, StreamRequest request) {
        long id = ids.incrementAndGet();
        StreamSession session = new StreamSession(id, model, request, socket);
        Thread thread = Thread.ofPlatform().name("stream-" + id).unstarted(() -> {
            try {
                session.run();
            } finally {
                running.remove(id);
                StreamSummary s = session.summary();
                if (s != null) {
                    synchronized (finished) {
                        finished.addLast(s);
                        while (finished.size() > KEPT_SUMMARIES) {
                            finished.removeFirst();
                        }
                    }
                    log.printf("stream %d: %s after %d chunks, %d frames, %.1f frames/s, first frame %.0f ms%n", id,
                            s.end(), s.chunksDone(), s.frames(), s.framesPerSecond(), s.firstFrameMs());
                }
                socket.releaseSlot();
            }
        });
        running.put(id, new Running(session, thread));
        if (closing) {
            session.stop("shutdown");
        }
        log.printf("stream %d: \"%s\", seed %d, %d chunks, cache %s on a switch%n", id, request.prompt(), request.seed(),
                request.chunks(), request.cache());
        thread.start();
        return session;
    }

    void release(StreamSocket socket) {
        slots.release();
    }

    /**
     * Graceful shutdown: refuses new streams, stops the running ones after their chunk in flight (each tells
     * its client, close code 1001), waits for their threads to free their memory, then stops the server.
     */
    @Override
    public void close() {
        closing = true;
        List<Running> now = new ArrayList<>(running.values());
        for (Running r : now) {
            r.session().stop("shutdown");
        }
        for (Running r : now) {
            try {
                r.thread().join(30_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        try {
            jetty.stop();
        } catch (Exception e) {
            log.println("serve: stopping the web server: " + e.getMessage());
        }
        timer.shutdownNow();
        if (!now.isEmpty()) {
            log.printf("serve: stopped %d stream%s%n", now.size(), now.size() == 1 ? "" : "s");
        }
    }

    private static void error(Response response, Callback callback, int status, String message) {
        response.setStatus(status);
        send(response, callback, "application/json", new JsonOut().put("error", message).put("status", status).toString()
                .getBytes(StandardCharsets.UTF_8));
    }

    private static void send(Response response, Callback callback, String type, byte[] body) {
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, type);
        response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-store");
        response.getHeaders().put("X-Content-Type-Options", "nosniff");
        response.write(true, ByteBuffer.wrap(body), callback);
    }

    private String status() {
        StringBuilder done = new StringBuilder("[");
        for (StreamSummary s : finished()) {
            done.append(done.length() > 1 ? "," : "").append(s.json());
        }
        return new JsonOut().put("model", model.bundle().name()).put("width", model.width()).put("height", model.height())
                .put("fps", model.fps()).put("defaultChunks", model.bundle().stream().chunks())
                .put("active", activeStreams()).put("maxStreams", limits.maxStreams())
                .put("maxPromptChars", limits.maxPromptChars()).put("maxChunks", limits.maxChunks())
                .raw("finished", done.append(']').toString()).toString();
    }

    /** Everything that is not a WebSocket upgrade: the page, its script and style, and /status. */
    private final class Pages extends Handler.Abstract {
        @Override
        public boolean handle(Request request, Response response, Callback callback) throws IOException {
            String path = Request.getPathInContext(request);
            String method = request.getMethod();
            if (!method.equals("GET") && !method.equals("HEAD")) {
                response.getHeaders().put(HttpHeader.ALLOW, "GET, HEAD");
                error(response, callback, 405, "method " + StreamRequest.clip(method) + " not allowed; use GET");
                return true;
            }
            switch (path) {
                case "/", "/index.html" -> page(response, callback, "index.html", "text/html; charset=utf-8");
                case "/app.js" -> page(response, callback, "app.js", "text/javascript; charset=utf-8");
                case "/style.css" -> page(response, callback, "style.css", "text/css; charset=utf-8");
                case "/status" -> send(response, callback, "application/json", status().getBytes(StandardCharsets.UTF_8));
                case "/stream" -> {
                    // The page asks here why its upgrade failed (browsers hide the status): the same checks, no slot taken.
                    try {
                        StreamRequest.parse(request.getHttpURI().getQuery(), limits, model.bundle().stream().chunks());
                        if (closing || slots.availablePermits() == 0) {
                            response.getHeaders().put(HttpHeader.RETRY_AFTER, Integer.toString(limits.retryAfterSeconds()));
                            error(response, callback, 503, closing ? "the server is shutting down" : "all "
                                    + limits.maxStreams() + " streams are running; retry in " + limits.retryAfterSeconds() + " s");
                        } else {
                            error(response, callback, 400, "/stream is a WebSocket: connect with Upgrade: websocket");
                        }
                    } catch (BadRequest e) {
                        error(response, callback, e.status(), e.getMessage());
                    }
                }
                default -> error(response, callback, 404, "no page " + StreamRequest.clip(path));
            }
            return true;
        }

        private void page(Response response, Callback callback, String name, String type) throws IOException {
            try (InputStream in = StreamServer.class.getResourceAsStream(name)) {
                if (in == null) {
                    throw new IOException("resource " + name + " missing from the jar");
                }
                // Only the page's own script, style and socket: nothing else may run in it.
                response.getHeaders().put("Content-Security-Policy", "default-src 'self'; connect-src 'self'");
                send(response, callback, type, in.readAllBytes());
            }
        }
    }
}
