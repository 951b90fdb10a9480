package dev.diagonal.io;

import dev.diagonal.io.SafetensorsException.Reason;
import dev.diagonal.tensor.DType;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SequencedMap;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * A safetensors header, parsed and checked against the size of the data region it describes: once a Header
 * exists, every tensor's bytes are known to lie inside the data region, to match its dtype and shape, and not
 * to overlap another tensor's. Gaps between tensors are allowed (writers may pad for alignment).
 */
record Header(SortedMap<String, TensorInfo> tensors, SequencedMap<String, String> metadata) {
    static final String METADATA_KEY = "__metadata__";
    private static final Set<String> FIELDS = Set.of("dtype", "shape", "data_offsets");

    /**
     * @param json     the header bytes (between the length prefix and the data region), trailing padding included
     * @param dataSize bytes in the data region
     */
    static Header parse(byte[] json, long dataSize, Path file) throws SafetensorsException {
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(json)).toString();
        } catch (CharacterCodingException e) {
            throw new SafetensorsException(Reason.BAD_JSON, file, null, "header is not valid UTF-8 (" + e + ")");
        }
        Object root = Json.parse(text, file);
        if (!(root instanceof Map<?, ?> entries)) {
            throw new SafetensorsException(Reason.NOT_AN_OBJECT, file, null, "header is a JSON " + kind(root)
                    + ", not an object");
        }
        if (text.charAt(0) != '{') { // the format says so; a leading BOM or space means a writer we do not know
            throw new SafetensorsException(Reason.BAD_JSON, file, null, "header does not begin with '{'");
        }
        SortedMap<String, TensorInfo> tensors = new TreeMap<>();
        SequencedMap<String, String> metadata = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : entries.entrySet()) {
            String name = (String) e.getKey();
            if (name.equals(METADATA_KEY)) {
                metadata = metadata(e.getValue(), file);
            } else {
                tensors.put(name, tensor(name, e.getValue(), dataSize, file));
            }
        }
        checkNoOverlap(tensors.values(), file);
        return new Header(Collections.unmodifiableSortedMap(tensors), Collections.unmodifiableSequencedMap(metadata));
    }

    private static SequencedMap<String, String> metadata(Object value, Path file) throws SafetensorsException {
        if (!(value instanceof Map<?, ?> map)) {
            throw new SafetensorsException(Reason.BAD_METADATA, file, null,
                    METADATA_KEY + " is a JSON " + kind(value) + ", not an object");
        }
        SequencedMap<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : map.entrySet()) {
            if (!(e.getValue() instanceof String v)) {
                throw new SafetensorsException(Reason.BAD_METADATA, file, null, METADATA_KEY + " value of \""
                        + Strings.clip((String) e.getKey()) + "\" is a JSON " + kind(e.getValue()) + ", not a string");
            }
            out.put((String) e.getKey(), v);
        }
        return out;
    }

    private static TensorInfo tensor(String name, Object value, long dataSize, Path file) throws SafetensorsException {
        if (!(value instanceof Map<?, ?> fields)) {
            throw fail(Reason.NOT_AN_OBJECT, file, name, "entry is a JSON " + kind(value) + ", not an object");
        }
        for (Object field : fields.keySet()) {
            if (!FIELDS.contains(field)) {
                throw fail(Reason.UNKNOWN_FIELD, file, name, "unknown field \"" + Strings.clip((String) field)
                        + "\" (expected dtype, shape, data_offsets)");
            }
        }
        for (String field : List.of("dtype", "shape", "data_offsets")) {
            if (!fields.containsKey(field)) {
                throw fail(Reason.MISSING_FIELD, file, name, "no \"" + field + "\" field");
            }
        }
        DType dtype = fields.get("dtype") instanceof String s ? DType.fromSafetensorsName(s) : null;
        if (dtype == null) {
            throw fail(Reason.UNKNOWN_DTYPE, file, name, "dtype " + show(fields.get("dtype"))
                    + " is not one of F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL");
        }
        long[] shape = shape(fields.get("shape"), name, file);
        long bytes;
        try {
            long numel = 1;
            for (long d : shape) {
                numel = Math.multiplyExact(numel, d);
            }
            bytes = Math.multiplyExact(numel, (long) dtype.bytes());
        } catch (ArithmeticException overflow) {
            throw fail(Reason.BAD_SHAPE, file, name, "byte size of " + dtype + " " + showShape(shape)
                    + " overflows a 64-bit count");
        }
        if (!(fields.get("data_offsets") instanceof List<?> offsets) || offsets.size() != 2
                || !(offsets.get(0) instanceof Long begin) || !(offsets.get(1) instanceof Long end)
                || begin < 0 || end < 0 || begin > end) {
            throw fail(Reason.BAD_OFFSETS, file, name, "data_offsets " + show(fields.get("data_offsets"))
                    + " is not [begin, end] with 0 <= begin <= end integers");
        }
        if (end - begin != bytes) {
            throw fail(Reason.SIZE_MISMATCH, file, name, "data_offsets [" + begin + ", " + end + "] hold "
                    + (end - begin) + " bytes but " + dtype + " " + showShape(shape) + " needs " + bytes);
        }
        if (end > dataSize) {
            throw fail(Reason.OUT_OF_BOUNDS, file, name, "data_offsets [" + begin + ", " + end
                    + "] run past the data region of " + dataSize + " bytes (file truncated?)");
        }
        return new TensorInfo(name, dtype, shape, begin, end);
    }

    private static long[] shape(Object value, String name, Path file) throws SafetensorsException {
        if (!(value instanceof List<?> dims)) {
            throw fail(Reason.BAD_SHAPE, file, name, "shape " + show(value) + " is not an array");
        }
        long[] shape = new long[dims.size()];
        for (int i = 0; i < shape.length; i++) {
            if (!(dims.get(i) instanceof Long d) || d < 0) {
                throw fail(Reason.BAD_SHAPE, file, name, "shape dimension " + i + " is " + show(dims.get(i))
                        + ", not a non-negative integer");
            }
            shape[i] = d;
        }
        return shape;
    }

    /** Sorted by begin, every non-empty range must start at or after the furthest end seen so far. */
    private static void checkNoOverlap(Iterable<TensorInfo> tensors, Path file) throws SafetensorsException {
        List<TensorInfo> nonEmpty = new ArrayList<>();
        for (TensorInfo t : tensors) {
            if (t.end() > t.begin()) { // an empty range holds no bytes, so it cannot share any
                nonEmpty.add(t);
            }
        }
        nonEmpty.sort(Comparator.comparingLong(TensorInfo::begin));
        TensorInfo furthest = null;
        for (TensorInfo t : nonEmpty) {
            if (furthest != null && t.begin() < furthest.end()) {
                throw fail(Reason.OVERLAP, file, t.name(), "bytes [" + t.begin() + ", " + t.end()
                        + ") overlap tensor '" + Strings.clip(furthest.name()) + "' at [" + furthest.begin() + ", "
                        + furthest.end() + ")");
            }
            if (furthest == null || t.end() > furthest.end()) {
                furthest = t;
            }
        }
    }

    private static SafetensorsException fail(Reason reason, Path file, String tensor, String detail) {
        return new SafetensorsException(reason, file, tensor, detail);
    }

    private static String kind(Object v) {
        return switch (v) {
            case Map<?, ?> _ -> "object";
            case List<?> _ -> "array";
            case String _ -> "string";
            case Long _, Json.Num _ -> "number";
            case Boolean _ -> "boolean";
            default -> "null";
        };
    }

    /** A short rendering of a parsed value for messages. */
    private static String show(Object v) {
        String s = switch (v) {
            case null -> "(absent)";
            case String str -> "\"" + Strings.clip(str) + "\"";
            // A hostile array may have millions of elements: show the first few only.
            case List<?> list when list.size() > 8 -> list.subList(0, 8) + "... (" + list.size() + " elements)";
            default -> String.valueOf(v);
        };
        return Strings.clip(s);
    }

    private static String showShape(long[] shape) {
        return Strings.clip(java.util.Arrays.toString(shape));
    }
}
