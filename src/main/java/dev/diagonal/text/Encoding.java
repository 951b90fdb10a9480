package dev.diagonal.text;

/**
 * A tokenized prompt.
 *
 * @param ids       token ids, ending with the end-of-sequence id
 * @param truncated whether the prompt was cut to fit (its tail is lost)
 * @param tokens    tokens the whole prompt needed before cutting (EOS included)
 */
public record Encoding(int[] ids, boolean truncated, int tokens) {

    /** Cuts to {@code maxLength} ids keeping the EOS last, as Wan's tokenizer (truncation=True) does. */
    static Encoding fit(int[] idsWithoutEos, int eos, int maxLength) {
        if (maxLength < 1) {
            throw new IllegalArgumentException("maxLength must be >= 1, got " + maxLength);
        }
        int keep = Math.min(idsWithoutEos.length, maxLength - 1);
        int[] ids = new int[keep + 1];
        System.arraycopy(idsWithoutEos, 0, ids, 0, keep);
        ids[keep] = eos;
        return new Encoding(ids, keep < idsWithoutEos.length, idsWithoutEos.length + 1);
    }

    /** A message for the user when the prompt was cut, else null. */
    public String truncationWarning() {
        return truncated ? "prompt needs " + tokens + " tokens; kept the first " + ids.length + " (the rest is ignored)" : null;
    }
}
