package dev.diagonal.batch;

import java.util.Locale;

/** What a job does with a malformed line of its prompt file (every one is reported either way). */
public enum OnBadLine {
    /** Leave the line out and make the others' clips. */
    SKIP,
    /** Fail the job before any task runs. */
    FAIL;

    static OnBadLine parse(String s) {
        return switch (s.toLowerCase(Locale.ROOT)) {
            case "skip" -> SKIP;
            case "fail" -> FAIL;
            default -> throw new IllegalArgumentException("--on-bad-line must be skip or fail, got '" + s + "'");
        };
    }
}
