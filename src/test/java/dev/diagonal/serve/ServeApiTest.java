package dev.diagonal.serve;

import dev.diagonal.backend.cpu.CpuBackend;
import dev.diagonal.io.Json;
import dev.diagonal.model.ModelBundle;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocketHandshakeException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** diagonal serve's API on loopback, on the shipped model: start, switch, stop, limits, bad input, disconnect. */
class ServeApiTest {
    static final String RED = "a red circle moving right on a black background";
    static final String BLUE = "a blue square moving left on a white background";
    private static final int FRAME_BYTES = FrameMessage.HEADER_BYTES + 64 * 64 * 3;

    private static CpuBackend backend;
    private static ServeModel model;
    private static StreamServer server;
    private static final HttpClient http = HttpClient.newHttpClient();

    @BeforeAll
    static void start() throws Exception {
        backend = new CpuBackend(2);
        model = ServeModel.open(ModelBundle.load(Path.of("weights")), backend);
        server = new StreamServer(model, ServeLimits.DEFAULT.withMaxStreams(3), "127.0.0.1", 0, false, System.out);
        server.start();
    }

    @AfterAll
    static void stop() {
        server.close();
        model.close();
        backend.close();
    }

    static String q(String prompt, String rest) {
        return "prompt=" + URLEncoder.encode(prompt, StandardCharsets.UTF_8) + (rest.isEmpty() ? "" : "&" + rest);
    }

    /** A whole stream: every frame's RGB, and the text messages, until the close. */
    record Run(List<byte[]> frames, List<String> texts, int closeCode) {
    }

    static Run drain(WsClient c, Runnable afterFirstChunk) throws InterruptedException {
        List<byte[]> frames = new ArrayList<>();
        List<String> texts = new ArrayList<>();
        boolean firstChunk = true;
        while (true) {
            WsClient.Message m = c.next();
            if (m.isClose()) {
                return new Run(frames, texts, m.closeCode());
            }
            if (m.binary() != null) {
                assertEquals(FRAME_BYTES, m.binary().length);
                ByteBuffer b = ByteBuffer.wrap(m.binary());
                assertEquals(frames.size(), b.getInt(0), "frames arrive in order, numbered");
                assertEquals(64, b.getShort(8));
                assertEquals(64, b.getShort(10));
                frames.add(Arrays.copyOfRange(m.binary(), FrameMessage.HEADER_BYTES, m.binary().length));
            } else {
                texts.add(m.text());
                if (firstChunk && m.text().contains("\"type\":\"chunk\"") && afterFirstChunk != null) {
                    firstChunk = false;
                    afterFirstChunk.run();
                }
            }
        }
    }

    static Map<?, ?> json(String s) throws Exception {
        return (Map<?, ?>) Json.parse(s, Path.of("test"));
    }

    static HttpResponse<String> get(String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void servesThePageItsScriptAndStatus() throws Exception {
        HttpResponse<String> page = get("/");
        assertEquals(200, page.statusCode());
        assertTrue(page.body().contains("<canvas id=\"view\""), page.body());
        assertTrue(page.headers().firstValue("Content-Type").orElse("").startsWith("text/html"));
        assertEquals(200, get("/app.js").statusCode());
        assertTrue(get("/style.css").body().contains("image-rendering: pixelated"));
        Map<?, ?> status = json(get("/status").body());
        assertEquals("diagonal-shapes-64", status.get("model"));
        assertEquals(64L, status.get("width"));
        assertEquals(404, get("/nothing").statusCode());
        HttpResponse<String> post = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/"))
                .POST(HttpRequest.BodyPublishers.ofString("x")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(405, post.statusCode());
        HttpResponse<String> plain = get("/stream?" + q(RED, ""));
        assertEquals(400, plain.statusCode());
        assertTrue(plain.body().contains("WebSocket"), plain.body());
    }

    @Test
    void aStreamSendsEveryFrameThenItsStatsThenDone() throws Exception {
        WsClient c = WsClient.open(server, q(RED, "seed=1&chunks=2&realtime=0"));
        Map<?, ?> started = json(c.nextOfType("started"));
        assertEquals(16L, started.get("fps"));
        Run run = drain(c, null);
        assertEquals(1000, run.closeCode());
        // This model's VAE doubles frames in time: 1 + 2 x 2 frames from the first chunk's 3 latents, 6 from each later one.
        assertEquals(5 + 6, run.frames().size());
        for (int i = 1; i < run.frames().size(); i++) {
            assertFalse(Arrays.equals(run.frames().get(i - 1), run.frames().get(i)), "frame " + i + " repeats the last");
        }
        List<Map<?, ?>> chunks = new ArrayList<>();
        for (String t : run.texts()) {
            Map<?, ?> m = json(t);
            if (m.get("type").equals("chunk")) {
                chunks.add(m);
            }
        }
        assertEquals(2, chunks.size());
        assertEquals(4L, chunks.get(0).get("nfe"), "the 4-3-2 schedule's first chunk");
        assertEquals(3L, chunks.get(1).get("nfe"));
        assertEquals(11L, chunks.get(1).get("frames"));
        assertNotNull(chunks.get(1).get("firstFrameMs"));
        Map<?, ?> done = json(run.texts().getLast());
        assertEquals("done", done.get("type"));
        assertEquals("done", done.get("end"));
        assertTrue(awaitSummary(started).released(), "the stream's arenas are closed");
    }

    @Test
    void aPromptSwitchAppliesToTheNextChunkAndLeavesEarlierFramesAlone() throws Exception {
        Run plain = drain(WsClient.open(server, q(RED, "seed=3&chunks=4&realtime=0")), null);
        for (String rule : List.of("keep", "reencode")) {
            WsClient c = WsClient.open(server, q(RED, "seed=3&chunks=4&realtime=0"));
            Run run = drain(c, () -> c.send("{\"type\":\"prompt\",\"prompt\":\"" + BLUE + "\",\"cache\":\"" + rule + "\"}"));
            assertEquals(1000, run.closeCode());
            Map<?, ?> switched = null;
            List<Map<?, ?>> after = new ArrayList<>();
            for (String t : run.texts()) {
                Map<?, ?> m = json(t);
                if (m.get("type").equals("switched")) {
                    switched = m;
                } else if (switched != null && m.get("type").equals("chunk")) {
                    after.add(m);
                }
            }
            assertNotNull(switched, rule + ": no switched message");
            assertEquals(rule, switched.get("cache"));
            assertFalse(after.isEmpty(), rule + ": the stream went on after the switch");
            assertEquals(BLUE, after.getFirst().get("prompt"));
            int chunk = ((Long) switched.get("chunk")).intValue();
            int frame = ((Long) switched.get("frame")).intValue();
            // A 9-frame cache with a 3-frame sink: after the next chunk begins it holds the sink chunk and at
            // most one more; re-encoding costs one pass per cached chunk.
            long steps = chunk == 1 ? 3 : 2;
            long cached = Math.min(chunk, 2);
            assertEquals(rule.equals("keep") ? steps : steps + cached, after.getFirst().get("nfe"), rule + " at chunk " + chunk);
            assertEquals(plain.frames().size(), run.frames().size());
            for (int i = 0; i < frame; i++) {
                assertArrayEquals(plain.frames().get(i), run.frames().get(i), rule + ": frame " + i + " is before the switch");
            }
            assertFalse(Arrays.equals(plain.frames().getLast(), run.frames().getLast()), rule + ": the new prompt changed nothing");
        }
    }

    @Test
    void stopEndsTheStreamAfterTheChunkInFlight() throws Exception {
        WsClient c = WsClient.open(server, q(RED, "chunks=200&realtime=0"));
        Map<?, ?> started = json(c.nextOfType("started"));
        Run run = drain(c, () -> c.send("{\"type\":\"stop\"}"));
        assertEquals(1000, run.closeCode());
        assertEquals("stopped", json(run.texts().getLast()).get("end"));
        StreamSummary s = awaitSummary(started);
        assertEquals("stopped", s.end());
        assertTrue(s.chunksDone() <= s.chunksAtStop() + 1, s.toString());
        assertTrue(s.chunksDone() < 200);
        assertTrue(s.released());
    }

    @Test
    void aClientThatDisconnectsStopsItsStreamWithinOneChunk() throws Exception {
        WsClient c = WsClient.open(server, q(RED, "chunks=200&realtime=0"));
        Map<?, ?> started = json(c.nextOfType("started"));
        c.nextOfType("chunk");
        c.ws.abort(); // the TCP connection drops, no close handshake
        StreamSummary s = awaitSummary(started);
        assertEquals("disconnected", s.end().replaceAll(":.*", ""));
        assertTrue(s.chunksAtStop() >= 1 && s.chunksDone() <= s.chunksAtStop() + 1, s.toString());
        assertTrue(s.released(), "the stream's arenas are closed");
    }

    @Test
    void badRequestsGetA4xxThatSaysWhy() throws Exception {
        String longPrompt = "a".repeat(501);
        Object[][] cases = {
                {"seed=1", 400, "prompt is missing"},
                {q("  ", ""), 400, "prompt is missing"},
                {q(longPrompt, ""), 413, "prompt is 501 characters; at most 500"},
                {q(RED, "seed=-1"), 400, "seed must be a whole number"},
                {q(RED, "seed=abc"), 400, "seed must be a whole number"},
                {q(RED, "seed=9007199254740992"), 400, "seed must be in [0, 9007199254740991]"},
                {q(RED, "chunks=0"), 400, "chunks must be in [1, 1000]"},
                {q(RED, "chunks=1001"), 400, "chunks must be in [1, 1000]"},
                {q(RED, "chunks=1&chunks=2"), 400, "given twice"},
                {q(RED, "cache=recache"), 400, "unknown cache rule 'recache'"},
                {q(RED, "realtime=yes"), 400, "realtime must be 0 or 1"},
                {q(RED, "fps=60"), 400, "unknown parameter 'fps'"},
                {"prompt=%ff%fe", 400, "not UTF-8"},
                {q("red\u0000circle", ""), 400, "control characters"},
        };
        for (Object[] t : cases) {
            // The page's plain-HTTP check and the upgrade itself give the same answer.
            HttpResponse<String> r = get("/stream?" + t[0]);
            assertEquals(t[1], r.statusCode(), (String) t[0]);
            assertTrue(r.body().contains((String) t[2]), t[0] + " -> " + r.body());
            CompletionException e = assertThrows(CompletionException.class, () -> WsClient.open(server, (String) t[0]));
            WebSocketHandshakeException h = assertInstanceOf(WebSocketHandshakeException.class, e.getCause());
            assertEquals(t[1], h.getResponse().statusCode(), (String) t[0]);
        }
        // A query java.net.URI refuses to build, sent by hand.
        String reply = raw("GET /stream?prompt=%zz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        assertTrue(reply.startsWith("HTTP/1.1 400") && reply.contains("malformed percent-encoding"), reply);
        CompletionException e = assertThrows(CompletionException.class, () -> HttpClient.newHttpClient()
                .newWebSocketBuilder().header("Origin", "http://evil.example").buildAsync(
                        URI.create("ws://127.0.0.1:" + server.port() + "/stream?" + q(RED, "")), new WsClient.Ignore()).join());
        assertEquals(403, assertInstanceOf(WebSocketHandshakeException.class, e.getCause()).getResponse().statusCode());
    }

    @Test
    void streamsPastTheLimitGet503WithRetryAfterAndNoQueue() throws Exception {
        try (StreamServer one = new StreamServer(model, ServeLimits.DEFAULT.withMaxStreams(1), "127.0.0.1", 0, false,
                System.out)) {
            one.start();
            WsClient first = WsClient.open(one, q(RED, "chunks=100&realtime=1"));
            first.nextOfType("started");
            CompletionException e = assertThrows(CompletionException.class, () -> WsClient.open(one, q(BLUE, "")));
            HttpResponse<?> refused = assertInstanceOf(WebSocketHandshakeException.class, e.getCause()).getResponse();
            assertEquals(503, refused.statusCode());
            assertEquals("5", refused.headers().firstValue("Retry-After").orElse(null));
            first.send("{\"type\":\"stop\"}");
            assertEquals(1000, drain(first, null).closeCode());
            // The slot comes back once the stream's thread has freed its memory.
            for (int i = 0; i < 600 && one.activeStreams() > 0; i++) {
                Thread.sleep(100);
            }
            Run again = drain(WsClient.open(one, q(BLUE, "chunks=1&realtime=0")), null);
            assertEquals(5, again.frames().size());
        }
    }

    @Test
    void badInputOnOneSocketNeverHurtsAnother() throws Exception {
        WsClient good = WsClient.open(server, q(RED, "chunks=12&realtime=0"));
        good.nextOfType("started");
        WsClient bad = WsClient.open(server, q(BLUE, "chunks=200&realtime=0"));
        bad.nextOfType("started");
        bad.send("{not json");
        assertTrue(bad.nextOfType("error").contains("not JSON"));
        bad.send("{\"type\":\"dance\"}");
        assertTrue(bad.nextOfType("error").contains("unknown message type 'dance'"));
        bad.send("{\"type\":\"prompt\",\"prompt\":\"" + "x".repeat(600) + "\"}");
        assertTrue(bad.nextOfType("error").contains("at most 500"));
        bad.send("{\"type\":\"prompt\",\"prompt\":\"red\",\"cache\":7}");
        assertTrue(bad.nextOfType("error").contains("'cache' must be"));
        bad.nextOfType("chunk"); // still streaming after all that
        bad.ws.sendBinary(ByteBuffer.wrap(new byte[]{1, 2, 3}), true).join();
        int code;
        while (true) {
            WsClient.Message m = bad.next();
            if (m.isClose()) {
                code = m.closeCode();
                break;
            }
        }
        assertEquals(1003, code, "binary input closes that socket as bad data");
        // Garbage on a raw TCP connection gets an HTTP 400 from the server, and nothing else happens.
        String reply = raw("NOT HTTP AT ALL\r\n\u0001\u0002\r\n\r\n");
        assertTrue(reply.startsWith("HTTP/1.1 400"), reply);
        // So does a WebSocket upgrade that lacks its key.
        reply = raw("GET /stream?prompt=red HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Version: 13\r\n\r\n");
        assertTrue(reply.startsWith("HTTP/1.1 4"), reply);
        Run rest = drain(good, null);
        assertEquals(1000, rest.closeCode());
        assertEquals("done", json(rest.texts().getLast()).get("end"));
    }

    /** Bytes sent on a fresh TCP connection, and what comes back until the server closes it (or 2 KB). */
    static String raw(String request) throws Exception {
        try (Socket s = new Socket("127.0.0.1", server.port())) {
            s.setSoTimeout(60_000);
            OutputStream out = s.getOutputStream();
            out.write(request.getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            InputStream in = s.getInputStream();
            return new String(in.readNBytes(2048), StandardCharsets.ISO_8859_1);
        }
    }

    /** The summary of the stream a 'started' message named, once its thread has finished. */
    static StreamSummary awaitSummary(Map<?, ?> started) throws InterruptedException {
        long id = (Long) started.get("id");
        for (int i = 0; i < 600; i++) {
            for (StreamSummary s : server.finished()) {
                if (s.id() == id) {
                    return s;
                }
            }
            Thread.sleep(100);
        }
        throw new AssertionError("stream " + id + " did not end within a minute");
    }
}
