package dev.diagonal.serve;

/**
 * What one server allows: how many streams run at once (the rest are refused with 503, never queued), and
 * how large a stream's request may be.
 *
 * @param maxStreams        streams generating at once
 * @param maxPromptChars    characters in a prompt (the default model's byte tokenizer reads at most 127 bytes;
 *                          the bound keeps requests and logs small for any tokenizer)
 * @param maxChunks         chunks one stream may ask for (12 frames each after the first)
 * @param retryAfterSeconds what a refused client is told to wait
 */
public record ServeLimits(int maxStreams, int maxPromptChars, int maxChunks, int retryAfterSeconds) {

    /** Two streams on two cores share them chunk by chunk; 1000 chunks is about 12,000 frames, 12 minutes. */
    public static final ServeLimits DEFAULT = new ServeLimits(2, 500, 1000, 5);

    public ServeLimits {
        if (maxStreams < 1 || maxStreams > 64) {
            throw new IllegalArgumentException("max streams must be in [1, 64], got " + maxStreams);
        }
        if (maxPromptChars < 1 || maxChunks < 1 || retryAfterSeconds < 1) {
            throw new IllegalArgumentException("prompt, chunk and retry limits must be positive");
        }
    }

    public ServeLimits withMaxStreams(int n) {
        return new ServeLimits(n, maxPromptChars, maxChunks, retryAfterSeconds);
    }
}
