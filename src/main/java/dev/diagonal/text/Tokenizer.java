package dev.diagonal.text;

/** Text to token ids for a text encoder. */
public interface Tokenizer {

    /** A short name for logs and cache keys ("bytes", "unigram:tokenizer.json"). */
    String name();

    int vocabSize();

    int padId();

    int eosId();

    /**
     * Cleans the prompt as Wan does ({@link PromptText#clean}), tokenizes it and appends EOS, cutting to at
     * most {@code maxLength} ids (EOS kept).
     */
    Encoding encode(String text, int maxLength);
}
