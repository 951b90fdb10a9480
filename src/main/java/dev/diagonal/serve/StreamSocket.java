package dev.diagonal.serve;

import dev.diagonal.io.Json;
import dev.diagonal.io.SafetensorsException;
import dev.diagonal.stream.SwitchRule;
import org.eclipse.jetty.websocket.api.Callback;
import org.eclipse.jetty.websocket.api.Session;
import org.eclipse.jetty.websocket.api.StatusCode;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One WebSocket of {@code /stream}: starts its {@link StreamSession} when the socket opens, turns the client's
 * text messages into prompt switches and stops, and stops the session the moment the socket closes. Input
 * it cannot use is answered with an error message (bad JSON, unknown type, bad prompt) or, for binary
 * messages, by closing this socket only; no client input can reach another stream.
 */
public final class StreamSocket implements Session.Listener.AutoDemanding, StreamChannel {
    /** A client that has not taken a message for this long is treated as gone. */
    static final long SEND_TIMEOUT_SECONDS = 15;

    private final StreamServer server;
    private final StreamRequest request;
    private final AtomicBoolean released = new AtomicBoolean();
    private volatile Session session;
    private volatile StreamSession stream;

    StreamSocket(StreamServer server, StreamRequest request) {
        this.server = server;
        this.request = request;
    }

    @Override
    public void onWebSocketOpen(Session s) {
        this.session = s;
        this.stream = server.startStream(this, request);
    }

    @Override
    public void onWebSocketText(String message) {
        StreamSession st = stream;
        if (st == null) {
            return;
        }
        try {
            Object root;
            try {
                root = Json.parse(message, Path.of("message"));
            } catch (SafetensorsException e) {
                throw new BadRequest(400, "message is not JSON: " + e.getMessage().replace("message: ", ""));
            }
            if (!(root instanceof Map<?, ?> m) || !(m.get("type") instanceof String type)) {
                throw new BadRequest(400, "a message is a JSON object with a string 'type': prompt or stop");
            }
            switch (type) {
                case "stop" -> st.stop("stopped");
                case "prompt" -> {
                    if (!(m.get("prompt") instanceof String p)) {
                        throw new BadRequest(400, "a prompt message needs a string 'prompt'");
                    }
                    String prompt = StreamRequest.prompt(p, server.limits());
                    SwitchRule rule = request.cache();
                    if (m.get("cache") != null) {
                        if (!(m.get("cache") instanceof String c)) {
                            throw new BadRequest(400, "'cache' must be \"keep\" or \"reencode\"");
                        }
                        try {
                            rule = SwitchRule.parse(c);
                        } catch (IllegalArgumentException e) {
                            throw new BadRequest(400, e.getMessage());
                        }
                    }
                    st.requestSwitch(prompt, rule);
                }
                default -> throw new BadRequest(400, "unknown message type '" + StreamRequest.clip(type) + "': use prompt or stop");
            }
        } catch (BadRequest e) {
            // The stream goes on; the client learns what was wrong with its message.
            session.sendText(new JsonOut().put("type", "error").put("status", e.status()).put("message", e.getMessage())
                    .toString(), Callback.NOOP);
        }
    }

    @Override
    public void onWebSocketBinary(ByteBuffer payload, Callback callback) {
        callback.succeed();
        session.close(StatusCode.BAD_DATA, "this endpoint takes text messages only", Callback.NOOP);
    }

    @Override
    public void onWebSocketClose(int statusCode, String reason) {
        StreamSession st = stream;
        if (st != null) {
            st.stop(statusCode == StatusCode.SHUTDOWN ? "shutdown" : "disconnected");
        } else {
            releaseSlot();
        }
    }

    @Override
    public void onWebSocketError(Throwable cause) {
        StreamSession st = stream;
        if (st != null) {
            st.stop("disconnected");
        }
    }

    /** Gives the stream slot back if the socket never opened (an upgrade that failed after it was accepted). */
    void releaseIfNeverOpened() {
        if (session == null) {
            releaseSlot();
        }
    }

    /**
     * Gives the stream slot back, once: when the session's thread ends (its memory is freed by then), or when
     * the socket closes or fails to open before any session started.
     */
    void releaseSlot() {
        if (released.compareAndSet(false, true)) {
            server.release(this);
        }
    }

    @Override
    public void sendText(String json) throws IOException {
        Callback.Completable done = new Callback.Completable();
        session.sendText(json, done);
        await(done);
    }

    @Override
    public void sendBinary(ByteBuffer message) throws IOException {
        Callback.Completable done = new Callback.Completable();
        session.sendBinary(message, done);
        await(done);
    }

    private static void await(Callback.Completable done) throws IOException {
        try {
            done.get(SEND_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw new IOException(e.getCause().getMessage() == null ? e.getCause().toString() : e.getCause().getMessage(), e);
        } catch (TimeoutException e) {
            throw new IOException("client took no message for " + SEND_TIMEOUT_SECONDS + " s");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while sending");
        }
    }

    @Override
    public void close(int code, String reason) {
        Session s = session;
        if (s != null && s.isOpen()) {
            // Close reasons are limited to 123 bytes by RFC 6455.
            String r = reason.length() > 100 ? reason.substring(0, 100) : reason;
            s.close(code, r, Callback.NOOP);
        }
    }
}
