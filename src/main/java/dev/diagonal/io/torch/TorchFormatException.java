package dev.diagonal.io.torch;

import dev.diagonal.io.Strings;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Objects;

/**
 * A PyTorch checkpoint that cannot be loaded: malformed, or holding something other than tensors and plain data.
 * The message names the file, the tensor or record when one is involved, and the opcode or global refused;
 * {@link #reason()} says the same for code and tests.
 */
public final class TorchFormatException extends IOException {
    private static final long serialVersionUID = 1L;

    /** What is wrong with the file. */
    public enum Reason {
        /** The zip structure (end record, central directory, local headers) is malformed or out of bounds. */
        BAD_ZIP,
        /** A record is compressed or encrypted, so it cannot be mapped. */
        COMPRESSED,
        /** data.pkl, or a storage record the pickle names, is missing. */
        MISSING_RECORD,
        /** The pickle is malformed: truncated, stack or memo misuse, wrong argument types. */
        BAD_PICKLE,
        /** The pickle uses an opcode a tensor state dict never needs (objects, extensions, buffers). */
        FORBIDDEN_OPCODE,
        /** The pickle names a global outside the tensor allowlist (os.system, builtins.eval, ...). */
        FORBIDDEN_GLOBAL,
        /** A length, count or size exceeds what the file can hold or what the reader allows. */
        TOO_LARGE,
        /** A tensor's size, stride or offset is negative or runs past its storage. */
        BAD_TENSOR,
        /** A tensor is not stored row-major contiguous, so it cannot be a plain view. */
        NON_CONTIGUOUS,
        /** The checkpoint was written on a big-endian machine. */
        BIG_ENDIAN,
        /** No dict of tensors was found at the root or under a known nesting key. */
        NO_STATE_DICT
    }

    private final transient Path file;
    private final String tensor;
    private final Reason reason;

    /** @param tensor the tensor or record involved, or null */
    public TorchFormatException(Reason reason, Path file, String tensor, String detail) {
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

    /** The tensor or record involved, or null. */
    public String tensor() {
        return tensor;
    }

    private static String format(Reason reason, Path file, String tensor, String detail) {
        StringBuilder sb = new StringBuilder("PyTorch checkpoint ").append(file);
        if (tensor != null) {
            sb.append(", tensor '").append(Strings.clip(tensor)).append('\'');
        }
        return sb.append(": ").append(detail).append(" [").append(reason).append(']').toString();
    }
}
