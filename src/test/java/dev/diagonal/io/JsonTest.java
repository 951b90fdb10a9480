package dev.diagonal.io;

import dev.diagonal.io.SafetensorsException.Reason;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The header JSON parser on its own: the grammar it accepts and the inputs it must refuse. */
class JsonTest {
    private static final Path FILE = Path.of("t.safetensors");

    private static Object parse(String s) throws SafetensorsException {
        return Json.parse(s, FILE);
    }

    private static void bad(String s) {
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> parse(s), s);
        assertEquals(Reason.BAD_JSON, e.reason(), e.getMessage());
    }

    @Test
    void values() throws SafetensorsException {
        assertEquals(Map.of("a", List.of(1L, -2L, 0L), "b", "x", "c", true, "d", false),
                parse(" {\"a\": [1, -2, -0], \"b\":\"x\", \"c\":true,\"d\":false}\n\t "));
        assertSame(Json.NULL, parse("null"));
        assertEquals(List.of(), parse("[ ]"));
        assertEquals(Map.of(), parse("{ }"));
        assertEquals(Long.MAX_VALUE, parse("9223372036854775807"));
        assertEquals(Long.MIN_VALUE, parse("-9223372036854775808"));
    }

    @Test
    void nonIntegersStayText() throws SafetensorsException {
        assertEquals(new Json.Num("1.5"), parse("1.5"));
        assertEquals(new Json.Num("1e3"), parse("1e3"));
        assertEquals(new Json.Num("-2E-7"), parse("-2E-7"));
        assertEquals(new Json.Num("9223372036854775808"), parse("9223372036854775808"));
    }

    @Test
    void escapes() throws SafetensorsException {
        assertEquals("\"\\/\b\f\n\r\t", parse("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\""));
        assertEquals("é", parse("\"\\u00e9\""));
        assertEquals("é", parse("\"\\u00E9\""));
        assertEquals("\uD83D\uDE00", parse("\"\\ud83d\\ude00\"")); // surrogate pair: U+1F600
        assertEquals("a\uD83D\uDE00b", parse("\"a\uD83D\uDE00b\"")); // raw, already-decoded pair
    }

    @Test
    void badEscapesAndStrings() {
        bad("\"\\x\"");
        bad("\"\\u12\"");
        bad("\"\\u12g4\"");
        bad("\"\\u\uFF11234\""); // a fullwidth digit is a digit to Character.digit, not to JSON
        bad("\"\\ud83d\""); // high surrogate alone
        bad("\"\\ud83dx\"");
        bad("\"\\ud83d\\u0041\""); // high surrogate then a non-surrogate
        bad("\"\\ude00\""); // low surrogate alone
        bad("\"tab\there\""); // raw control char
        bad("\"unterminated");
        bad("\"\\");
    }

    @Test
    void badNumbers() {
        for (String s : List.of("01", "-", "1.", ".5", "1e", "1e+", "+1", "0x10", "NaN", "Infinity", "--1")) {
            bad(s);
        }
    }

    @Test
    void badStructure() {
        for (String s : List.of("", " ", "{", "}", "[1,]", "[,1]", "{\"a\"}", "{\"a\":}", "{a:1}", "{'a':1}",
                "{\"a\":1 \"b\":2}", "[1] [2]", "tru", "nul", "{\"a\":1}}", "\u00a0{}")) {
            bad(s);
        }
    }

    @Test
    void depthLimit() throws SafetensorsException {
        String ok = "[".repeat(Json.MAX_DEPTH) + "]".repeat(Json.MAX_DEPTH);
        parse(ok);
        bad("[" + ok + "]");
    }

    @Test
    void duplicateKeysAnyDepth() {
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> parse("{\"t\":{\"a\":1,\"a\":2}}"));
        assertEquals(Reason.DUPLICATE_KEY, e.reason());
        assertEquals("t", e.tensor());
    }
}
