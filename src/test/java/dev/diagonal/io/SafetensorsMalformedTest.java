package dev.diagonal.io;

import dev.diagonal.io.SafetensorsException.Reason;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** One malformed file per failure mode: each must fail with its own Reason, naming the file and the tensor. */
class SafetensorsMalformedTest {
    @TempDir
    Path dir;

    private static final String W = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";

    /** Opens the file expecting failure; checks reason, file name in message, and the tensor (null = none). */
    private SafetensorsException fails(Path file, Reason reason, String tensor) {
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> SafetensorsFile.open(file).close());
        assertEquals(reason, e.reason(), e.getMessage());
        assertEquals(file, e.file());
        assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
        assertTrue(e.getMessage().contains(reason.name()), e.getMessage());
        if (tensor == null) {
            assertNull(e.tensor(), e.getMessage());
        } else {
            assertEquals(tensor, e.tensor());
            assertTrue(e.getMessage().contains("'" + tensor + "'"), e.getMessage());
        }
        return e;
    }

    private Path file(String header, int dataBytes) throws IOException {
        return RawFiles.write(dir, "m.safetensors", header, dataBytes);
    }

    @Test
    void emptyFileAndShortLengthAreTruncatedHeader() throws IOException {
        fails(RawFiles.write(dir, "empty.safetensors", new byte[0]), Reason.TRUNCATED_HEADER, null);
        fails(RawFiles.write(dir, "short.safetensors", new byte[] {2, 0, 0, 0, 0}), Reason.TRUNCATED_HEADER, null);
    }

    @Test
    void headerLengthBeyondFile() throws IOException {
        byte[] ok = RawFiles.bytes(W, new byte[8]);
        fails(RawFiles.write(dir, "a.safetensors", RawFiles.withLength(ok.length, Arrays.copyOfRange(ok, 8, ok.length))),
                Reason.HEADER_TOO_LARGE, null);
    }

    @Test
    void headerLengthWithTopBitSetOrAbsurd() throws IOException {
        byte[] rest = "{}".getBytes(StandardCharsets.US_ASCII);
        fails(RawFiles.write(dir, "neg.safetensors", RawFiles.withLength(-1L, rest)), Reason.HEADER_TOO_LARGE, null);
        SafetensorsException e = fails(RawFiles.write(dir, "big.safetensors", RawFiles.withLength(200_000_000L, rest)),
                Reason.HEADER_TOO_LARGE, null);
        assertTrue(e.getMessage().contains("limit"), e.getMessage());
    }

    @Test
    void badJson() throws IOException {
        fails(file("{\"w\":{\"dtype\":\"F32\",", 0), Reason.BAD_JSON, "w");
        fails(file("{\"a\":1,}", 0), Reason.BAD_JSON, null);
        fails(file("", 0), Reason.BAD_JSON, null);
        fails(file(" " + W, 8), Reason.BAD_JSON, null); // must begin with '{'
        fails(file(W + "x", 8), Reason.BAD_JSON, null);
    }

    @Test
    void invalidUtf8IsBadJson() throws IOException {
        byte[] h = "{\"\u00e9\":{}}".getBytes(StandardCharsets.UTF_8);
        h[3] = (byte) 0xFF; // break the two-byte sequence of 'é'
        fails(RawFiles.write(dir, "utf.safetensors", RawFiles.withLength(h.length, h)), Reason.BAD_JSON, null);
    }

    @Test
    void rootOrEntryNotAnObject() throws IOException {
        fails(file("[1,2]", 0), Reason.NOT_AN_OBJECT, null);
        fails(file("{\"w\":[0]}", 0), Reason.NOT_AN_OBJECT, "w");
    }

    @Test
    void unknownDtype() throws IOException {
        fails(file(W.replace("F32", "F8_E4M3"), 8), Reason.UNKNOWN_DTYPE, "w");
        fails(file(W.replace("\"F32\"", "4"), 8), Reason.UNKNOWN_DTYPE, "w");
        fails(file(W.replace("F32", "f32"), 8), Reason.UNKNOWN_DTYPE, "w");
    }

    @Test
    void badShapes() throws IOException {
        fails(file(W.replace("[2]", "[-2]"), 8), Reason.BAD_SHAPE, "w");
        fails(file(W.replace("[2]", "[2.0]"), 8), Reason.BAD_SHAPE, "w");
        fails(file(W.replace("[2]", "[2e0]"), 8), Reason.BAD_SHAPE, "w");
        fails(file(W.replace("[2]", "[\"2\"]"), 8), Reason.BAD_SHAPE, "w");
        fails(file(W.replace("[2]", "2"), 8), Reason.BAD_SHAPE, "w");
        fails(file(W.replace("[2]", "[99999999999999999999]"), 8), Reason.BAD_SHAPE, "w");
        // Each dimension fits a long but the byte count does not.
        fails(file(W.replace("[2]", "[4294967296,4294967296]"), 8), Reason.BAD_SHAPE, "w");
        fails(file(W.replace("[2]", "[2305843009213693952]"), 8), Reason.BAD_SHAPE, "w"); // 2^61 * 4 bytes
    }

    @Test
    void badOffsets() throws IOException {
        fails(file(W.replace("[0,8]", "[8,0]"), 8), Reason.BAD_OFFSETS, "w");
        fails(file(W.replace("[0,8]", "[0,8,16]"), 8), Reason.BAD_OFFSETS, "w");
        fails(file(W.replace("[0,8]", "[0.0,8]"), 8), Reason.BAD_OFFSETS, "w");
        fails(file(W.replace("[0,8]", "[-8,0]"), 8), Reason.BAD_OFFSETS, "w");
        fails(file(W.replace("[0,8]", "{}"), 8), Reason.BAD_OFFSETS, "w");
    }

    @Test
    void offsetsBeyondFile() throws IOException {
        fails(file(W.replace("[0,8]", "[8,16]"), 8), Reason.OUT_OF_BOUNDS, "w");
        long big = Long.MAX_VALUE - 8;
        fails(file(W.replace("[0,8]", "[" + big + "," + (big + 8) + "]"), 8),
                Reason.OUT_OF_BOUNDS, "w");
    }

    @Test
    void truncatedDataRegion() throws IOException {
        byte[] ok = RawFiles.bytes(W, new byte[8]);
        fails(RawFiles.write(dir, "cut.safetensors", Arrays.copyOf(ok, ok.length - 1)), Reason.OUT_OF_BOUNDS, "w");
    }

    @Test
    void overlappingTensors() throws IOException {
        String h = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[6,10]}}";
        SafetensorsException e = fails(file(h, 16), Reason.OVERLAP, "b");
        assertTrue(e.getMessage().contains("'a'"), e.getMessage());
        // A tensor nested entirely inside a bigger one overlaps too, even after a zero-size one between them.
        String nested = "{\"big\":{\"dtype\":\"U8\",\"shape\":[16],\"data_offsets\":[0,16]},"
                + "\"e\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,4]},"
                + "\"small\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[10,12]}}";
        fails(file(nested, 16), Reason.OVERLAP, "small");
    }

    @Test
    void sizeMismatch() throws IOException {
        fails(file(W.replace("[0,8]", "[0,4]"), 8), Reason.SIZE_MISMATCH, "w");
        fails(file(W.replace("\"F32\"", "\"F64\""), 8), Reason.SIZE_MISMATCH, "w");
    }

    @Test
    void duplicateKeys() throws IOException {
        fails(file("{\"w\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]},"
                + "\"w\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0), Reason.DUPLICATE_KEY, "w");
        fails(file(W.replace("\"dtype\":\"F32\"", "\"dtype\":\"F32\",\"dtype\":\"F32\""), 8), Reason.DUPLICATE_KEY, "w");
        // Escapes are decoded before comparing: "\u0077" is "w".
        fails(file("{\"w\":{},\"\\u0077\":{}}", 0), Reason.DUPLICATE_KEY, "w");
    }

    @Test
    void missingAndUnknownFields() throws IOException {
        fails(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[0]}}", 0), Reason.MISSING_FIELD, "w");
        fails(file("{\"w\":{\"shape\":[0],\"data_offsets\":[0,0]}}", 0), Reason.MISSING_FIELD, "w");
        fails(file(W.replace("}}", ",\"extra\":1}}"), 8), Reason.UNKNOWN_FIELD, "w");
    }

    @Test
    void badMetadata() throws IOException {
        fails(file("{\"__metadata__\":{\"k\":1}}", 0), Reason.BAD_METADATA, null);
        fails(file("{\"__metadata__\":[\"k\"]}", 0), Reason.BAD_METADATA, null);
        fails(file("{\"__metadata__\":{\"k\":null}}", 0), Reason.BAD_METADATA, null);
    }

    @Test
    void deepNestingIsRejectedWithoutStackOverflow() throws IOException {
        String deep = "{\"w\":" + "[".repeat(100_000) + "]".repeat(100_000) + "}";
        SafetensorsException e = fails(file(deep, 0), Reason.BAD_JSON, "w");
        assertTrue(e.getMessage().contains("nesting"), e.getMessage());
    }

    @Test
    void hugeNamesAreClippedInMessages() throws IOException {
        String name = "n".repeat(1_000_000);
        SafetensorsException e = assertThrows(SafetensorsException.class,
                () -> SafetensorsFile.open(file("{\"" + name + "\":{\"dtype\":\"X\",\"shape\":[],\"data_offsets\":[0,0]}}", 0)));
        assertEquals(Reason.UNKNOWN_DTYPE, e.reason());
        assertEquals(name, e.tensor());
        assertTrue(e.getMessage().length() < 1000, "message of " + e.getMessage().length() + " chars");
    }
}
