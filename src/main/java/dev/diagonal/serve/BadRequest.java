package dev.diagonal.serve;

/** A request the server refuses, with the HTTP status and a message that says what to change. */
public final class BadRequest extends Exception {
    private final int status;

    public BadRequest(int status, String message) {
        super(message);
        this.status = status;
    }

    /** 400 unless the message is about size (413, 414) or a method (405). */
    public int status() {
        return status;
    }
}
