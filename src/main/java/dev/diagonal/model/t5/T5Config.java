package dev.diagonal.model.t5;

/**
 * The shape of a T5 encoder as Wan uses it (umT5: a relative-position bias per layer, gated-GELU FFN).
 *
 * @param textLen  the context length the DiT takes; longer prompts are truncated by the tokenizer
 */
public record T5Config(String name, int vocab, int dim, int dimAttn, int ffnDim, int heads, int layers, int buckets,
                       int maxDistance, int textLen, float eps) {

    /** umT5-XXL's encoder (models_t5_umt5-xxl-enc-bf16.pth): 5.7B parameters. */
    public static final T5Config UMT5_XXL = new T5Config("umt5-xxl", 256384, 4096, 4096, 10240, 64, 24, 32, 128, 512, 1e-6f);

    /** The golden tests' size (tools/reference/make_t5_goldens.py). */
    public static final T5Config TINY = new T5Config("tiny", 300, 32, 32, 48, 4, 2, 32, 128, 160, 1e-6f);

    public T5Config {
        if (vocab < 1 || dim < 1 || dimAttn < 1 || ffnDim < 1 || heads < 1 || layers < 0 || textLen < 1) {
            throw new IllegalArgumentException("T5 config " + name + ": sizes must be positive");
        }
        if (dimAttn % heads != 0 || buckets < 4 || buckets % 4 != 0 || maxDistance <= buckets / 4) {
            throw new IllegalArgumentException("T5 config " + name + ": dimAttn must split into heads, buckets be a "
                    + "multiple of 4 and maxDistance exceed buckets/4");
        }
    }

    public static T5Config preset(String name) {
        return switch (name) {
            case "umt5-xxl" -> UMT5_XXL;
            case "tiny" -> TINY;
            default -> throw new IllegalArgumentException("unknown text encoder config '" + name + "' (umt5-xxl or tiny)");
        };
    }
}
