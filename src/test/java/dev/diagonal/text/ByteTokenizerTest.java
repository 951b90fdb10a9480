package dev.diagonal.text;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ByteTokenizerTest {
    private final ByteTokenizer t = new ByteTokenizer();

    @Test
    void bytesOffsetByThreeThenEos() {
        assertArrayEquals(new int[] {'a' + 3, ' ' + 3, 'b' + 3, 1}, t.encode("a b", 16).ids());
        assertArrayEquals(new int[] {1}, t.encode("", 16).ids());
        assertArrayEquals(new int[] {1}, t.encode(" \t\n", 16).ids());
    }

    @Test
    void anyScriptRoundTrips() {
        for (String s : new String[] {"caf\u00e9", "\u043a\u0440\u0443\u0433", "\u7ea2\u8272\u7684\u5706", "\u0623\u062d\u0645\u0631",
                "\ud83d\udd34 circle", "e\u0301"}) {
            Encoding e = t.encode(s, 512);
            assertEquals(s, ByteTokenizer.decode(e.ids()));
            assertFalse(e.truncated());
        }
        assertEquals(3 + 1, t.encode("\u7ea2", 16).ids().length); // three UTF-8 bytes + EOS
    }

    @Test
    void overlongIsCutWithEosKept() {
        Encoding e = t.encode("abcdefgh", 5);
        assertArrayEquals(new int[] {'a' + 3, 'b' + 3, 'c' + 3, 'd' + 3, 1}, e.ids());
        assertTrue(e.truncated());
        assertEquals(9, e.tokens());
        assertThrows(IllegalArgumentException.class, () -> t.encode("a", 0));
        assertThrows(IllegalArgumentException.class, () -> t.encode(null, 4));
    }

    @Test
    void malformedTextIsRepairedNotRejected() {
        assertEquals("\ufffdx", ByteTokenizer.decode(t.encode("\udc00x", 16).ids()));
        assertEquals("a\ufffd", ByteTokenizer.decode(t.encode("a\ud83d", 16).ids()));
        assertEquals("\u00e9 <b>", PromptText.clean("&#233;   &lt;b&gt;"));
        assertEquals("&", PromptText.clean("&amp;amp;"));
        assertEquals("\ufffd", PromptText.clean("&#0;"));
    }
}
