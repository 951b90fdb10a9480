package dev.diagonal.model.dit;

/**
 * The Wan2.1 text-to-video DiT's hyper-parameters. The tiny configs are the same architecture with smaller
 * numbers, never a different model.
 *
 * @param inDim      latent channels in (16 for Wan's VAE)
 * @param outDim     latent channels out
 * @param dim        model width
 * @param ffnDim     feed-forward hidden width
 * @param freqDim    sinusoidal timestep embedding width
 * @param textDim    text encoder width (umT5-XXL: 4096)
 * @param textLen    text tokens the model attends to (padded)
 * @param numHeads   attention heads
 * @param numLayers  transformer blocks
 * @param patchT     patch size along frames
 * @param patchH     patch size along height
 * @param patchW     patch size along width
 * @param eps        norm epsilon
 */
public record WanConfig(String name, int inDim, int outDim, int dim, int ffnDim, int freqDim, int textDim,
                        int textLen, int numHeads, int numLayers, int patchT, int patchH, int patchW, float eps) {

    /** Wan2.1-T2V-1.3B, the architecture Diagonal Distillation's student uses. */
    public static final WanConfig T2V_1_3B =
            new WanConfig("t2v-1.3b", 16, 16, 1536, 8960, 256, 4096, 512, 12, 30, 1, 2, 2, 1e-6f);

    /** Wan2.1-T2V-14B (Wan-Video/Wan2.1 wan/configs/wan_t2v_14B.py), the base of Krea Realtime 14B. */
    public static final WanConfig T2V_14B =
            new WanConfig("t2v-14b", 16, 16, 5120, 13824, 256, 4096, 512, 40, 40, 1, 2, 2, 1e-6f);

    /** The tiny config the PyTorch goldens are made with (head dim 32). */
    public static final WanConfig TINY =
            new WanConfig("tiny", 16, 16, 64, 160, 32, 32, 8, 2, 2, 1, 2, 2, 1e-6f);

    public WanConfig {
        positive("inDim", inDim);
        positive("outDim", outDim);
        positive("dim", dim);
        positive("ffnDim", ffnDim);
        positive("freqDim", freqDim);
        positive("textDim", textDim);
        positive("textLen", textLen);
        positive("numHeads", numHeads);
        positive("numLayers", numLayers);
        positive("patchT", patchT);
        positive("patchH", patchH);
        positive("patchW", patchW);
        if (dim % numHeads != 0) {
            throw new IllegalArgumentException(name + ": dim " + dim + " is not a multiple of numHeads " + numHeads);
        }
        if ((dim / numHeads) % 2 != 0 || dim / numHeads < 6) {
            throw new IllegalArgumentException(name + ": head dim " + dim / numHeads + " must be even and at least 6 for 3D RoPE");
        }
        if (freqDim % 2 != 0) {
            throw new IllegalArgumentException(name + ": freqDim " + freqDim + " must be even");
        }
        if (!(eps > 0)) {
            throw new IllegalArgumentException(name + ": eps must be positive");
        }
    }

    private static void positive(String what, int v) {
        if (v <= 0 || v > (1 << 20)) {
            throw new IllegalArgumentException(what + " = " + v + " is not in [1, 2^20]");
        }
    }

    public int headDim() {
        return dim / numHeads;
    }

    /** Features of one patch: inDim · patchT · patchH · patchW. */
    public int patchFeatures() {
        return inDim * patchT * patchH * patchW;
    }

    /** Head output features per token: outDim · patchT · patchH · patchW. */
    public int headFeatures() {
        return outDim * patchT * patchH * patchW;
    }

    /** A preset by name ("t2v-1.3b", "t2v-14b", "tiny"). */
    public static WanConfig preset(String name) {
        return switch (name) {
            case "t2v-1.3b" -> T2V_1_3B;
            case "t2v-14b" -> T2V_14B;
            case "tiny" -> TINY;
            default -> throw new IllegalArgumentException("unknown model config '" + name + "': use t2v-1.3b, t2v-14b or tiny");
        };
    }
}
