package dev.diagonal.batch;

/** A job's input is unusable (a bad prompt file under --on-bad-line fail, a bad flag): nothing was run. */
public final class BatchInputException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    public BatchInputException(String message) {
        super(message);
    }
}
