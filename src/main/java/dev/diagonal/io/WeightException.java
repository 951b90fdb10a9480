package dev.diagonal.io;

import java.util.Objects;

/**
 * A checkpoint that does not fit the model asking for it: a weight missing, of the wrong shape or dtype, present
 * but never asked for, or two checkpoint keys that become the same name. Unchecked, because model code fetches
 * hundreds of weights and a mismatch is fatal to loading either way. The message names the file and the tensor.
 */
public final class WeightException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** What does not fit. */
    public enum Reason {
        /** The model asked for a weight the checkpoint does not have. */
        MISSING,
        /** The weight's shape is not the one the model expects. */
        WRONG_SHAPE,
        /** The weight's dtype is not one the model accepts. */
        WRONG_DTYPE,
        /** The checkpoint has weights the model did not expect or never used. */
        UNEXPECTED,
        /** Two checkpoint keys normalize to the same name (in one file or across files). */
        KEY_COLLISION
    }

    private final Reason reason;

    public WeightException(Reason reason, String message) {
        super(message + " [" + reason + "]");
        this.reason = Objects.requireNonNull(reason);
    }

    public Reason reason() {
        return reason;
    }
}
