package dev.diagonal.serve;

import java.util.Locale;

/** A flat JSON object written field by field: the server's messages are small and fixed, no library needed. */
final class JsonOut {
    private final StringBuilder sb = new StringBuilder("{");

    JsonOut put(String key, String value) {
        key(key);
        quote(value);
        return this;
    }

    JsonOut put(String key, long value) {
        key(key);
        sb.append(value);
        return this;
    }

    /** Rounded to 0.1: these are milliseconds and frame rates, read by people. NaN and infinities become null. */
    JsonOut put(String key, double value) {
        key(key);
        sb.append(Double.isFinite(value) ? String.format(Locale.ROOT, "%.1f", value) : "null");
        return this;
    }

    JsonOut put(String key, boolean value) {
        key(key);
        sb.append(value);
        return this;
    }

    /** A value already written as JSON (a nested object or array). */
    JsonOut raw(String key, String json) {
        key(key);
        sb.append(json);
        return this;
    }

    private void key(String key) {
        if (sb.length() > 1) {
            sb.append(',');
        }
        quote(key);
        sb.append(':');
    }

    private void quote(String s) {
        if (s == null) {
            sb.append("null");
            return;
        }
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\t' -> sb.append("\\t");
                case '\r' -> sb.append("\\r");
                default -> {
                    // Also escapes U+2028/2029, which some JavaScript parsers took as line ends.
                    if (c < 0x20 || c == '\u2028' || c == '\u2029') {
                        sb.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        sb.append('"');
    }

    @Override
    public String toString() {
        return sb + "}";
    }
}
