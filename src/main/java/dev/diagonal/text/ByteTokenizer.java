package dev.diagonal.text;

import java.nio.charset.StandardCharsets;

/**
 * Byte-level tokens for small models (ByT5's scheme): pad 0, EOS 1, unk 2 (unused: every byte has an id), and
 * UTF-8 byte b as id b + 3; vocabulary 259. Any language and any symbol encodes, at one token per byte.
 */
public final class ByteTokenizer implements Tokenizer {
    public static final int PAD = 0, EOS = 1, UNK = 2, OFFSET = 3, VOCAB = 259;

    @Override
    public String name() {
        return "bytes";
    }

    @Override
    public int vocabSize() {
        return VOCAB;
    }

    @Override
    public int padId() {
        return PAD;
    }

    @Override
    public int eosId() {
        return EOS;
    }

    @Override
    public Encoding encode(String text, int maxLength) {
        byte[] bytes = PromptText.clean(text).getBytes(StandardCharsets.UTF_8);
        int[] ids = new int[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            ids[i] = (bytes[i] & 0xff) + OFFSET;
        }
        return Encoding.fit(ids, EOS, maxLength);
    }

    /** Ids back to text (special ids dropped, a cut multi-byte character becomes U+FFFD). */
    public static String decode(int[] ids) {
        byte[] b = new byte[ids.length];
        int n = 0;
        for (int id : ids) {
            if (id >= OFFSET && id < VOCAB) {
                b[n++] = (byte) (id - OFFSET);
            }
        }
        return new String(b, 0, n, StandardCharsets.UTF_8);
    }
}
