package dev.diagonal.io;

import dev.diagonal.io.SafetensorsException.Reason;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A strict JSON parser, written for safetensors headers (and reused for tokenizer.json) and for untrusted input: RFC 8259 grammar
 * only, duplicate keys rejected, unpaired surrogate escapes rejected, nesting depth bounded (so a header of a
 * million '[' cannot overflow the stack).
 *
 * <p>Values come back as {@code Map<String,Object>} (insertion-ordered), {@code List<Object>}, {@code String},
 * {@code Long} (an integer literal that fits a long), {@link Num} (any other number, kept as text so the caller
 * can say exactly what it rejected), {@code Boolean} and {@link #NULL}.
 */
public final class Json {
    /** A safetensors header needs depth 3; 32 leaves room without letting the recursion run far. */
    static final int MAX_DEPTH = 32;

    /** JSON null (Java null is kept for "absent"). */
    public static final Object NULL = new Object() {
        @Override
        public String toString() {
            return "null";
        }
    };

    /** A number that is not an integer in long range: a fraction, an exponent, or too many digits. */
    public record Num(String text) {
        @Override
        public String toString() {
            return Strings.clip(text);
        }
    }

    private final String s;
    private final Path file;
    private int pos;
    /** The key of the top-level entry being parsed: errors inside it name it as the tensor. */
    private String topKey;

    private Json(String s, Path file) {
        this.s = s;
        this.file = file;
    }

    /** Parses one JSON value that makes up all of {@code text}, except for whitespace around it. */
    public static Object parse(String text, Path file) throws SafetensorsException {
        Json p = new Json(text, file);
        p.skipWhitespace();
        Object v = p.value(1);
        p.topKey = null;
        p.skipWhitespace();
        if (p.pos != text.length()) {
            throw p.error("unexpected " + p.describeHere() + " after the JSON value");
        }
        return v;
    }

    private Object value(int depth) throws SafetensorsException {
        if (pos >= s.length()) {
            throw error("header ends where a value should start");
        }
        char c = s.charAt(pos);
        return switch (c) {
            case '{' -> object(depth);
            case '[' -> array(depth);
            case '"' -> string();
            case 't' -> literal("true", Boolean.TRUE);
            case 'f' -> literal("false", Boolean.FALSE);
            case 'n' -> literal("null", NULL);
            default -> {
                if (c == '-' || (c >= '0' && c <= '9')) {
                    yield number();
                }
                throw error("unexpected " + describeHere());
            }
        };
    }

    private Map<String, Object> object(int depth) throws SafetensorsException {
        checkDepth(depth);
        pos++; // '{'
        Map<String, Object> map = new LinkedHashMap<>();
        skipWhitespace();
        if (peek() == '}') {
            pos++;
            return map;
        }
        while (true) {
            if (peek() != '"') {
                throw error("expected a string key but found " + describeHere());
            }
            String key = string();
            if (depth == 1) {
                topKey = key;
            }
            if (map.containsKey(key)) {
                throw new SafetensorsException(Reason.DUPLICATE_KEY, file, topKey,
                        "key \"" + Strings.clip(key) + "\" appears twice in one object");
            }
            skipWhitespace();
            expect(':');
            skipWhitespace();
            map.put(key, value(depth + 1));
            if (depth == 1) {
                topKey = null; // errors between entries belong to no tensor
            }
            skipWhitespace();
            if (peek() == ',') {
                pos++;
                skipWhitespace();
            } else if (peek() == '}') {
                pos++;
                return map;
            } else {
                throw error("expected ',' or '}' but found " + describeHere());
            }
        }
    }

    private List<Object> array(int depth) throws SafetensorsException {
        checkDepth(depth);
        pos++; // '['
        List<Object> list = new ArrayList<>();
        skipWhitespace();
        if (peek() == ']') {
            pos++;
            return list;
        }
        while (true) {
            list.add(value(depth + 1));
            skipWhitespace();
            if (peek() == ',') {
                pos++;
                skipWhitespace();
            } else if (peek() == ']') {
                pos++;
                return list;
            } else {
                throw error("expected ',' or ']' but found " + describeHere());
            }
        }
    }

    private String string() throws SafetensorsException {
        pos++; // opening quote
        StringBuilder sb = new StringBuilder();
        int runStart = pos;
        while (true) {
            if (pos >= s.length()) {
                throw error("unterminated string");
            }
            char c = s.charAt(pos);
            if (c == '"') {
                sb.append(s, runStart, pos++);
                return sb.toString();
            } else if (c == '\\') {
                sb.append(s, runStart, pos++);
                escape(sb);
                runStart = pos;
            } else if (c < 0x20) {
                throw error("control character U+" + String.format("%04X", (int) c) + " inside a string");
            } else {
                pos++;
            }
        }
    }

    /** Appends the escape after a backslash; pos is just past the backslash. */
    private void escape(StringBuilder sb) throws SafetensorsException {
        if (pos >= s.length()) {
            throw error("unterminated escape");
        }
        char e = s.charAt(pos++);
        switch (e) {
            case '"', '\\', '/' -> sb.append(e);
            case 'b' -> sb.append('\b');
            case 'f' -> sb.append('\f');
            case 'n' -> sb.append('\n');
            case 'r' -> sb.append('\r');
            case 't' -> sb.append('\t');
            case 'u' -> {
                char u = hex4();
                if (Character.isHighSurrogate(u)) {
                    // A name must be real text: a high surrogate has to be followed by an escaped low one.
                    if (!s.startsWith("\\u", pos)) {
                        throw error("high surrogate \\u" + hexOf(u) + " not followed by a low surrogate");
                    }
                    pos += 2;
                    char low = hex4();
                    if (!Character.isLowSurrogate(low)) {
                        throw error("high surrogate \\u" + hexOf(u) + " followed by \\u" + hexOf(low));
                    }
                    sb.append(u).append(low);
                } else if (Character.isLowSurrogate(u)) {
                    throw error("unpaired low surrogate \\u" + hexOf(u));
                } else {
                    sb.append(u);
                }
            }
            default -> throw error("invalid escape \\" + printable(e));
        }
    }

    private char hex4() throws SafetensorsException {
        if (pos + 4 > s.length()) {
            throw error("truncated \\u escape");
        }
        int v = 0;
        for (int i = 0; i < 4; i++) {
            int d = Character.digit(s.charAt(pos + i), 16);
            // Character.digit accepts non-ASCII digits too; JSON allows only [0-9a-fA-F].
            if (d < 0 || s.charAt(pos + i) > 'f') {
                throw error("invalid hex digit in \\u escape");
            }
            v = v * 16 + d;
        }
        pos += 4;
        return (char) v;
    }

    private Object number() throws SafetensorsException {
        int start = pos;
        boolean integral = true;
        if (peek() == '-') {
            pos++;
        }
        if (peek() == '0') {
            pos++;
        } else if (isDigit(peek())) {
            digits();
        } else {
            throw error("malformed number");
        }
        if (peek() == '.') {
            pos++;
            integral = false;
            if (!isDigit(peek())) {
                throw error("malformed number: no digits after '.'");
            }
            digits();
        }
        if (peek() == 'e' || peek() == 'E') {
            pos++;
            integral = false;
            if (peek() == '+' || peek() == '-') {
                pos++;
            }
            if (!isDigit(peek())) {
                throw error("malformed number: no digits in exponent");
            }
            digits();
        }
        String text = s.substring(start, pos);
        if (integral) {
            try {
                return Long.parseLong(text);
            } catch (NumberFormatException tooBig) {
                return new Num(text);
            }
        }
        return new Num(text);
    }

    private void digits() {
        while (isDigit(peek())) {
            pos++;
        }
    }

    private Object literal(String word, Object v) throws SafetensorsException {
        if (!s.startsWith(word, pos)) {
            throw error("unexpected " + describeHere());
        }
        pos += word.length();
        return v;
    }

    private void checkDepth(int depth) throws SafetensorsException {
        if (depth > MAX_DEPTH) {
            throw error("nesting deeper than " + MAX_DEPTH);
        }
    }

    private void expect(char c) throws SafetensorsException {
        if (peek() != c) {
            throw error("expected '" + c + "' but found " + describeHere());
        }
        pos++;
    }

    private void skipWhitespace() {
        while (pos < s.length()) {
            char c = s.charAt(pos);
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
                return;
            }
            pos++;
        }
    }

    /** The char at pos, or 0 at the end (0 cannot start or continue any token, so it fails every test). */
    private char peek() {
        return pos < s.length() ? s.charAt(pos) : 0;
    }

    private static boolean isDigit(char c) {
        return c >= '0' && c <= '9';
    }

    private String describeHere() {
        return pos >= s.length() ? "end of header" : "'" + printable(s.charAt(pos)) + "'";
    }

    private static String printable(char c) {
        return c >= 0x20 && c < 0x7F ? String.valueOf(c) : "U+" + hexOf(c);
    }

    private static String hexOf(char c) {
        return String.format("%04X", (int) c);
    }

    private SafetensorsException error(String what) {
        return new SafetensorsException(Reason.BAD_JSON, file, topKey, "bad header JSON at char " + pos + ": " + what);
    }
}
