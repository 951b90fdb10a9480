package dev.diagonal.stream;

import java.util.Locale;

/**
 * What a prompt change in the middle of a stream does to the KV cache. The cached frames were written under
 * the old prompt; the next chunk attends to them either way, and the question is whether their K/V are
 * rewritten first.
 */
public enum SwitchRule {
    /** Keep the cache as it is (the cheap way): only the next chunk's own passes see the new prompt. */
    KEEP("keep"),
    /**
     * Re-encode the window under the new prompt first, as LongLive re-caches recent frames on a switch: one
     * pass per cached chunk, replaying the pass whose K/V the cache holds, with the new prompt's context.
     */
    REENCODE("reencode");

    private final String label;

    SwitchRule(String label) {
        this.label = label;
    }

    /** "keep" or "reencode". */
    public static SwitchRule parse(String s) {
        for (SwitchRule r : values()) {
            if (r.label.equals(s.trim().toLowerCase(Locale.ROOT))) {
                return r;
            }
        }
        throw new IllegalArgumentException("unknown cache rule '" + s + "' for a prompt switch: use keep or reencode");
    }

    @Override
    public String toString() {
        return label;
    }
}
