package dev.diagonal.io;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Mutations of safetensors files for the fuzzer: blind byte edits, which mostly test the length prefix and
 * JSON syntax, and header-aware edits (swap a number, a dtype or a key, then fix the length prefix), which get
 * past the parser and exercise the offset, shape and overlap checks where the dangerous arithmetic is.
 */
final class Mutator {
    private static final byte[] INTERESTING_BYTES = "\0\u007f\"[]{},:-0123456789.eE\\u \t".getBytes(StandardCharsets.ISO_8859_1);
    private static final List<String> INTERESTING_NUMBERS = List.of("-1", "0", "1", "2", "3", "4", "7", "8", "16",
            "255", "4096", "2147483647", "2147483648", "4294967296", "4611686018427387904", "2305843009213693952",
            "9223372036854775807", "9223372036854775808", "-9223372036854775808", "1.0", "1e3", "0.5", "-0", "1E400",
            "99999999999999999999999");
    private static final List<String> INTERESTING_TOKENS = List.of("\"F64\"", "\"F32\"", "\"F16\"", "\"BF16\"",
            "\"I64\"", "\"I32\"", "\"I16\"", "\"I8\"", "\"U8\"", "\"BOOL\"", "\"F8_E4M3\"", "\"\"", "null", "true",
            "[]", "{}", "[0]", "[0,0]", "\"__metadata__\"", "\"dtype\"", "\"shape\"", "\"data_offsets\"", "\"\\ud800\"",
            "\"\\u0000\"", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");
    private static final Pattern TOKEN = Pattern.compile("-?\\d+(?:\\.\\d+)?(?:[eE][-+]?\\d+)?|\"(?:[^\"\\\\]|\\\\.)*\"");

    private final Random random;

    Mutator(long seed) {
        this.random = new Random(seed);
    }

    /** One, sometimes up to four stacked, mutations of {@code base}; {@code other} is for splices. */
    byte[] mutate(byte[] base, byte[] other) {
        byte[] b = base;
        // Mostly one edit: stacked edits nearly always break the length prefix or the JSON before the deeper checks.
        for (int n = random.nextInt(3) == 0 ? 2 + random.nextInt(3) : 1; n > 0; n--) {
            b = once(b, other);
        }
        return b;
    }

    private byte[] once(byte[] b, byte[] other) {
        return switch (random.nextInt(10)) {
            case 0, 1, 2, 3 -> headerToken(b);
            case 4 -> flipBit(b);
            case 5 -> setByte(b);
            case 6 -> Arrays.copyOf(b, random.nextInt(b.length + 1)); // truncate
            case 7 -> deleteRange(b);
            case 8 -> splice(b, other);
            default -> lengthPrefix(b);
        };
    }

    /** Replaces one JSON number or string in the header with an interesting one and fixes the length prefix. */
    private byte[] headerToken(byte[] b) {
        int n = headerLength(b);
        if (n < 0) {
            return flipBit(b);
        }
        String header = new String(b, 8, n, StandardCharsets.UTF_8);
        Matcher m = TOKEN.matcher(header);
        List<int[]> spans = m.results().map(r -> new int[] {r.start(), r.end()}).toList();
        if (spans.isEmpty()) {
            return flipBit(b);
        }
        int[] span = spans.get(random.nextInt(spans.size()));
        String replacement = switch (random.nextInt(3)) {
            case 0 -> INTERESTING_NUMBERS.get(random.nextInt(INTERESTING_NUMBERS.size()));
            case 1 -> INTERESTING_TOKENS.get(random.nextInt(INTERESTING_TOKENS.size()));
            default -> Long.toString(random.nextInt(64)); // small numbers make plausible offsets and shapes
        };
        String edited = header.substring(0, span[0]) + replacement + header.substring(span[1]);
        byte[] h = edited.getBytes(StandardCharsets.UTF_8);
        byte[] data = Arrays.copyOfRange(b, 8 + n, b.length);
        return RawFiles.withLength(h.length, concat(h, data));
    }

    private byte[] flipBit(byte[] b) {
        if (b.length == 0) {
            return new byte[] {(byte) random.nextInt(256)};
        }
        byte[] c = b.clone();
        int i = pickIndex(c);
        c[i] ^= (byte) (1 << random.nextInt(8));
        return c;
    }

    private byte[] setByte(byte[] b) {
        if (b.length == 0) {
            return b;
        }
        byte[] c = b.clone();
        c[pickIndex(c)] = INTERESTING_BYTES[random.nextInt(INTERESTING_BYTES.length)];
        return c;
    }

    private byte[] deleteRange(byte[] b) {
        if (b.length < 2) {
            return b;
        }
        int from = random.nextInt(b.length);
        int to = Math.min(b.length, from + 1 + random.nextInt(16));
        return concat(Arrays.copyOfRange(b, 0, from), Arrays.copyOfRange(b, to, b.length));
    }

    private byte[] splice(byte[] a, byte[] other) {
        return concat(Arrays.copyOf(a, random.nextInt(a.length + 1)),
                Arrays.copyOfRange(other, random.nextInt(other.length + 1), other.length));
    }

    /** Rewrites the 8-byte length with a near-miss or extreme value. */
    private byte[] lengthPrefix(byte[] b) {
        if (b.length < 8) {
            return b;
        }
        long n = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        long[] choices = {n - 1, n + 1, n - 8, n + 8, 0, b.length - 8, b.length - 7, Long.MIN_VALUE, -1,
                Long.MAX_VALUE, 100_000_001, random.nextLong()};
        byte[] c = b.clone();
        ByteBuffer.wrap(c).order(ByteOrder.LITTLE_ENDIAN).putLong(0, choices[random.nextInt(choices.length)]);
        return c;
    }

    /** Mostly inside the length prefix and the header, where the parsing is; sometimes anywhere. */
    private int pickIndex(byte[] b) {
        int n = headerLength(b);
        int hot = n >= 0 && random.nextInt(4) != 0 ? 8 + n : b.length;
        return random.nextInt(Math.max(1, Math.min(hot, b.length)));
    }

    /** The declared header length when it is plausible for this buffer, else -1. */
    private static int headerLength(byte[] b) {
        if (b.length < 8) {
            return -1;
        }
        long n = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        return n >= 0 && n <= b.length - 8 ? (int) n : -1;
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }
}
