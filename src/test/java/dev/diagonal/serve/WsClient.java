package dev.diagonal.serve;

import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** A test client for /stream on the JDK's WebSocket: every message in arrival order, text or binary. */
final class WsClient implements WebSocket.Listener {
    /** A message received: text (JSON) or binary (a frame), or the close. */
    record Message(String text, byte[] binary, int closeCode, String closeReason) {
        boolean isClose() {
            return closeCode != 0;
        }
    }

    /** A listener that takes whatever comes, for connections expected to fail. */
    static final class Ignore implements WebSocket.Listener {
    }

    private final BlockingQueue<Message> messages = new LinkedBlockingQueue<>();
    private final StringBuilder text = new StringBuilder();
    private final ByteArrayOutputStream binary = new ByteArrayOutputStream();
    final WebSocket ws;

    private WsClient(URI uri) {
        this.ws = HttpClient.newHttpClient().newWebSocketBuilder().buildAsync(uri, this).join();
    }

    static WsClient open(StreamServer server, String query) {
        return new WsClient(URI.create("ws://127.0.0.1:" + server.port() + "/stream?" + query));
    }

    /** The next message, waiting at most a minute (a liveness bound, not a timing check). */
    Message next() throws InterruptedException {
        Message m = messages.poll(60, TimeUnit.SECONDS);
        if (m == null) {
            throw new AssertionError("no message from the server within a minute");
        }
        return m;
    }

    /** The next text message whose JSON has "type":"{type}", skipping frames and other messages. */
    String nextOfType(String type) throws InterruptedException {
        while (true) {
            Message m = next();
            if (m.isClose()) {
                throw new AssertionError("closed (" + m.closeCode + " " + m.closeReason + ") before a '" + type + "' message");
            }
            if (m.text != null && m.text.contains("\"type\":\"" + type + "\"")) {
                return m.text;
            }
        }
    }

    void send(String json) {
        ws.sendText(json, true).join();
    }

    @Override
    public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
        text.append(data);
        if (last) {
            messages.add(new Message(text.toString(), null, 0, null));
            text.setLength(0);
        }
        webSocket.request(1);
        return null;
    }

    @Override
    public CompletionStage<?> onBinary(WebSocket webSocket, ByteBuffer data, boolean last) {
        byte[] b = new byte[data.remaining()];
        data.get(b);
        binary.writeBytes(b);
        if (last) {
            messages.add(new Message(null, binary.toByteArray(), 0, null));
            binary.reset();
        }
        webSocket.request(1);
        return null;
    }

    @Override
    public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
        messages.add(new Message(null, null, statusCode, reason));
        return CompletableFuture.completedFuture(null);
    }

    @Override
    public void onError(WebSocket webSocket, Throwable error) {
        messages.add(new Message(null, null, -1, String.valueOf(error)));
    }
}
