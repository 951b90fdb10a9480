package dev.diagonal.serve;

import dev.diagonal.stream.SwitchRule;

import java.net.URLDecoder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * What a client asks for when it opens a stream, from the query string of {@code /stream?...}: checked in
 * full before the WebSocket upgrade, so a bad request is an HTTP 4xx with a message, not a broken socket.
 *
 * @param prompt   the first prompt
 * @param seed     noise seed, 0 .. 2^53 - 1 (a JavaScript number stays exact)
 * @param chunks   chunks to generate
 * @param cache    what a prompt switch does to the KV cache unless the switch says otherwise
 * @param realtime hold the stream to the video's frame rate (at most one chunk ahead of the wall clock)
 *                 rather than as fast as the engine goes
 */
public record StreamRequest(String prompt, long seed, int chunks, SwitchRule cache, boolean realtime) {

    static final long MAX_SEED = (1L << 53) - 1;
    static final int MAX_QUERY_BYTES = 4096;
    private static final Set<String> KEYS = Set.of("prompt", "seed", "chunks", "cache", "realtime");

    /** Parses and checks a raw (still percent-encoded) query string against {@code limits}. */
    public static StreamRequest parse(String rawQuery, ServeLimits limits, int defaultChunks) throws BadRequest {
        Map<String, String> q = query(rawQuery);
        for (String k : q.keySet()) {
            if (!KEYS.contains(k)) {
                throw new BadRequest(400, "unknown parameter '" + clip(k) + "'; known: prompt, seed, chunks, cache, realtime");
            }
        }
        String prompt = prompt(q.get("prompt"), limits);
        long seed = number(q, "seed", 0, 0, MAX_SEED);
        int chunks = (int) number(q, "chunks", Math.min(defaultChunks, limits.maxChunks()), 1, limits.maxChunks());
        SwitchRule cache;
        try {
            cache = SwitchRule.parse(q.getOrDefault("cache", "keep"));
        } catch (IllegalArgumentException e) {
            throw new BadRequest(400, e.getMessage());
        }
        String rt = q.getOrDefault("realtime", "1");
        if (!rt.equals("0") && !rt.equals("1")) {
            throw new BadRequest(400, "realtime must be 0 or 1, got '" + clip(rt) + "'");
        }
        return new StreamRequest(prompt, seed, chunks, cache, rt.equals("1"));
    }

    /** A prompt checked against the limits: present, not blank, not too long, no control characters. */
    static String prompt(String p, ServeLimits limits) throws BadRequest {
        if (p == null || p.isBlank()) {
            throw new BadRequest(400, "prompt is missing or empty");
        }
        int chars = p.codePointCount(0, p.length());
        if (chars > limits.maxPromptChars()) {
            throw new BadRequest(413, "prompt is " + chars + " characters; at most " + limits.maxPromptChars());
        }
        if (p.codePoints().anyMatch(c -> Character.isISOControl(c) && c != '\t' && c != '\n')) {
            throw new BadRequest(400, "prompt holds control characters");
        }
        return p;
    }

    private static long number(Map<String, String> q, String key, long fallback, long min, long max) throws BadRequest {
        String s = q.get(key);
        if (s == null) {
            return fallback;
        }
        if (!s.matches("[0-9]{1,19}")) {
            throw new BadRequest(400, key + " must be a whole number in [" + min + ", " + max + "], got '" + clip(s) + "'");
        }
        long v;
        try {
            v = Long.parseLong(s);
        } catch (NumberFormatException e) {
            v = Long.MAX_VALUE;
        }
        if (v < min || v > max) {
            throw new BadRequest(400, key + " must be in [" + min + ", " + max + "], got " + clip(s));
        }
        return v;
    }

    private static Map<String, String> query(String raw) throws BadRequest {
        Map<String, String> out = new LinkedHashMap<>();
        if (raw == null || raw.isEmpty()) {
            return out;
        }
        if (raw.length() > MAX_QUERY_BYTES) {
            throw new BadRequest(414, "query string is " + raw.length() + " bytes; at most " + MAX_QUERY_BYTES);
        }
        for (String part : raw.split("&")) {
            if (part.isEmpty()) {
                continue;
            }
            int eq = part.indexOf('=');
            String k = decode(eq < 0 ? part : part.substring(0, eq));
            String v = eq < 0 ? "" : decode(part.substring(eq + 1));
            if (out.put(k, v) != null) {
                throw new BadRequest(400, "parameter '" + clip(k) + "' given twice");
            }
        }
        return out;
    }

    // URLDecoder replaces malformed UTF-8 silently; a prompt must arrive as sent or be refused.
    private static String decode(String s) throws BadRequest {
        try {
            String latin = URLDecoder.decode(s, StandardCharsets.ISO_8859_1);
            byte[] bytes = latin.getBytes(StandardCharsets.ISO_8859_1);
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(java.nio.ByteBuffer.wrap(bytes)).toString();
        } catch (IllegalArgumentException e) {
            throw new BadRequest(400, "malformed percent-encoding in the query string");
        } catch (CharacterCodingException e) {
            throw new BadRequest(400, "the query string is not UTF-8");
        }
    }

    static String clip(String s) {
        return s.length() <= 40 ? s : s.substring(0, 40) + "...";
    }
}
