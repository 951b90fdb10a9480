package dev.diagonal.text;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Prompt cleaning as Wan's tokenizer wrapper does it with clean='whitespace': HTML entities unescaped twice,
 * whitespace runs collapsed to one space, ends trimmed. Wan also runs ftfy.fix_text (mojibake repair), which
 * has no Java equivalent here; it changes only text that was mis-decoded upstream. Unpaired surrogates (a
 * Java String can hold them, UTF-8 cannot) become U+FFFD.
 */
public final class PromptText {
    private static final Pattern ENTITY = Pattern.compile("&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|amp|lt|gt|quot|apos|nbsp);");
    private static final Pattern SPACE = Pattern.compile("[\\s\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]+");

    private PromptText() {
    }

    public static String clean(String text) {
        if (text == null) {
            throw new IllegalArgumentException("prompt is null");
        }
        String s = unescape(unescape(wellFormed(text)));
        return SPACE.matcher(s).replaceAll(" ").strip();
    }

    /** The text with every unpaired surrogate replaced by U+FFFD. */
    static String wellFormed(String s) {
        StringBuilder b = null;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean ok = Character.isHighSurrogate(c) ? i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))
                    : !Character.isLowSurrogate(c);
            if (Character.isHighSurrogate(c) && ok) {
                if (b != null) {
                    b.append(c).append(s.charAt(i + 1));
                }
                i++;
                continue;
            }
            if (!ok && b == null) {
                b = new StringBuilder(s.length()).append(s, 0, i);
            }
            if (b != null) {
                b.append(ok ? c : '\ufffd');
            }
        }
        return b == null ? s : b.toString();
    }

    private static String unescape(String s) {
        if (s.indexOf('&') < 0) {
            return s;
        }
        Matcher m = ENTITY.matcher(s);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String e = m.group(1);
            String r = switch (e) {
                case "amp" -> "&";
                case "lt" -> "<";
                case "gt" -> ">";
                case "quot" -> "\"";
                case "apos" -> "'";
                case "nbsp" -> "\u00a0";
                default -> {
                    int cp = e.charAt(1) == 'x' || e.charAt(1) == 'X' ? Integer.parseInt(e.substring(2), 16)
                            : Integer.parseInt(e.substring(1));
                    yield Character.isValidCodePoint(cp) && !(cp >= 0xd800 && cp <= 0xdfff) && cp != 0
                            ? Character.toString(cp) : "\ufffd";
                }
            };
            m.appendReplacement(out, Matcher.quoteReplacement(r));
        }
        m.appendTail(out);
        return out.toString();
    }
}
