package dev.diagonal.io;

/** String helpers for messages and for writing JSON. */
public final class Strings {
    /** Names in messages are cut to this many chars: a hostile file may hold a 100 MB tensor name. */
    private static final int MAX_SHOWN = 200;

    private Strings() {
    }

    /** s, shortened with an ellipsis and its length when it is too long to show in a message. */
    public static String clip(String s) {
        if (s.length() <= MAX_SHOWN) {
            return s;
        }
        return s.substring(0, MAX_SHOWN) + "...(" + s.length() + " chars)";
    }

    /** True when s has a surrogate that is not part of a pair: such a string has no UTF-8 form. */
    static boolean hasLoneSurrogate(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                return true;
            }
        }
        return false;
    }

    /** s as a JSON string literal; non-ASCII stays as is (the header is UTF-8), control chars are escaped. */
    public static void appendJsonString(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (c < 0x20) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        sb.append('"');
    }
}
