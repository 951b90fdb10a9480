package dev.diagonal.model.vae;

import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;

import java.lang.foreign.Arena;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Splitting latents into calls and joining the videos back, for the decoders' chunked-decoding tests. */
final class LatentFrames {
    private LatentFrames() {
    }

    /** Latent frames [from, from + count) of z [C, F, h, w]. */
    static Tensor slice(Tensor z, int from, int count, Arena arena) {
        long c = z.dim(0), t = z.dim(1), px = z.dim(2) * z.dim(3);
        Tensor out = Tensor.allocate(arena, DType.F32, c, count, z.dim(2), z.dim(3));
        for (long ch = 0; ch < c; ch++) {
            for (long i = 0; i < count * px; i++) {
                out.setFloat(ch * count * px + i, z.getFloat((ch * t + from) * px + i));
            }
        }
        return out;
    }

    /** Videos [3, Ti, H, W] joined along time into [3, total, H, W]. */
    static float[] concat(List<float[]> parts, int total, int pixels) {
        float[] out = new float[3 * total * pixels];
        int at = 0;
        for (float[] p : parts) {
            int t = p.length / (3 * pixels);
            for (int ch = 0; ch < 3; ch++) {
                System.arraycopy(p, ch * t * pixels, out, (ch * total + at) * pixels, t * pixels);
            }
            at += t;
        }
        assertEquals(total, at);
        return out;
    }
}
