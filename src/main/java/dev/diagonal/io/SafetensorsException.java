package dev.diagonal.io;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Objects;

/**
 * A safetensors file that is malformed. The message always names the file, the tensor when one is involved,
 * and what is wrong; {@link #reason()} says the same for code and tests.
 */
public final class SafetensorsException extends IOException {
    private static final long serialVersionUID = 1L;

    /** What is wrong with the file. */
    public enum Reason {
        /** The file is shorter than the 8-byte header length. */
        TRUNCATED_HEADER,
        /** The header length runs past the end of the file or beyond the 100 MB limit. */
        HEADER_TOO_LARGE,
        /** The header is not valid UTF-8 or not valid JSON, or nests too deeply. */
        BAD_JSON,
        /** The header, or a tensor entry, is not a JSON object. */
        NOT_AN_OBJECT,
        /** A JSON object repeats a key. */
        DUPLICATE_KEY,
        /** A tensor entry lacks dtype, shape or data_offsets. */
        MISSING_FIELD,
        /** A tensor entry has a field other than dtype, shape and data_offsets. */
        UNKNOWN_FIELD,
        /** The dtype is not a string naming a supported type. */
        UNKNOWN_DTYPE,
        /** The shape is not an array of non-negative integers, or its byte size overflows. */
        BAD_SHAPE,
        /** data_offsets is not a pair [begin, end] of non-negative integers with begin <= end. */
        BAD_OFFSETS,
        /** end - begin differs from the byte size the dtype and shape call for. */
        SIZE_MISMATCH,
        /** A tensor's bytes run past the end of the data region. */
        OUT_OF_BOUNDS,
        /** Two tensors share bytes. */
        OVERLAP,
        /** __metadata__ is not an object of string values. */
        BAD_METADATA
    }

    private final transient Path file;
    private final String tensor;
    private final Reason reason;

    /**
     * @param tensor the tensor involved, or null when the problem is with the file as a whole
     * @param detail what is wrong, in words
     */
    public SafetensorsException(Reason reason, Path file, String tensor, String detail) {
        super(format(reason, file, tensor, detail));
        this.reason = Objects.requireNonNull(reason);
        this.file = file;
        this.tensor = tensor;
    }

    public Reason reason() {
        return reason;
    }

    public Path file() {
        return file;
    }

    /** The tensor involved, or null. */
    public String tensor() {
        return tensor;
    }

    private static String format(Reason reason, Path file, String tensor, String detail) {
        StringBuilder sb = new StringBuilder("safetensors file ").append(file);
        if (tensor != null) {
            sb.append(", tensor '").append(Strings.clip(tensor)).append('\'');
        }
        return sb.append(": ").append(detail).append(" [").append(reason).append(']').toString();
    }
}
