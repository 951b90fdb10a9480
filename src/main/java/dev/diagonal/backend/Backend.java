package dev.diagonal.backend;

import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Device;
import dev.diagonal.tensor.Tensor;

import java.lang.foreign.Arena;

/**
 * The ops the models are written in. Activations are F32, row-major, [rows, cols] unless said otherwise;
 * weights may be F32, BF16 or F16 and are widened inside the op. Every op writes only its output (or, for the
 * in-place ops, its first argument) and never allocates; memory comes from {@link #allocate}.
 *
 * <p>Activations should live in shared (or auto/global) arenas: a backend may fan an op out over its own
 * threads, and memory of a confined arena can only be touched by its owner thread (the CPU backend then
 * runs that op on the caller alone: correct, but single-threaded).
 *
 * <p>The CPU backend is the reference; a CUDA backend implements the same contract with kernels of the same
 * names, and tests compare the two.
 */
public interface Backend extends AutoCloseable {

    /** A short name for logs ("cpu", "cuda:0"). */
    String name();

    /** One line for the startup log: what runs, how wide, how many threads, and any slow-path warning. */
    default String describe() {
        return name();
    }

    /** The device this backend's tensors live on. */
    Device device();

    /** A zero-filled tensor on this backend's device, freed when {@code arena} closes. */
    Tensor allocate(Arena arena, DType dtype, long... shape);

    /** Copies all elements of src into dst (same element count and dtype), across devices if needed. */
    void copy(Tensor src, Tensor dst);

    /** Copies {@code count} rows of src starting at srcRow to dst at dstRow; the tensors may be the same. */
    void copyRows(Tensor src, long srcRow, Tensor dst, long dstRow, long count);

    /** out[n,m] = x[n,k] · w[m,k]ᵀ + bias[m] (bias may be null): PyTorch's Linear. */
    void linear(Tensor x, Tensor w, Tensor bias, Tensor out);

    /** LayerNorm over the last axis, (x - mean) / sqrt(var + eps) * weight + bias; weight and bias may be null. */
    void layerNorm(Tensor x, Tensor weight, Tensor bias, float eps, Tensor out);

    /** RMSNorm over the last axis: x / sqrt(mean(x²) + eps) * weight (weight may be null). */
    void rmsNorm(Tensor x, Tensor weight, float eps, Tensor out);

    /**
     * adaLN modulation per frame: out[r] = x[r] * (1 + scale[f]) + shift[f], with f = r / rowsPerFrame;
     * shift and scale are [frames, cols]. May run in place (out == x).
     */
    void modulate(Tensor x, Tensor shift, Tensor scale, int rowsPerFrame, Tensor out);

    /** Gated residual per frame: x[r] += y[r] * gate[r / rowsPerFrame]. */
    void gatedAdd(Tensor x, Tensor y, Tensor gate, int rowsPerFrame);

    /** x[r] += row for every row r (row has x's last dimension). */
    void addRow(Tensor x, Tensor row);

    /** x += y elementwise. */
    void add(Tensor x, Tensor y);

    /** x *= y elementwise (a gated FFN's gate). */
    void mul(Tensor x, Tensor y);

    /** GELU with the tanh approximation, in place. */
    void geluTanh(Tensor x);

    /** SiLU x·sigmoid(x), in place. */
    void silu(Tensor x);

    /**
     * Wan's 3D rotary embedding, in place. x is [tokens, heads * headDim] with tokens ordered (frame, row, col)
     * over a grid of {@code frames x height x width}; frame f uses position {@code frameOffset + f}. The
     * table is F32 [maxPositions, headDim/2, 2] of (cos, sin): its first cT columns rotate by frame position,
     * the next cH by row and the last cW by column (Wan's split cT = c - 2(c/3), cH = cW = c/3, c = headDim/2).
     * Pairs are adjacent elements (2j, 2j+1) as in view_as_complex.
     */
    void rope3d(Tensor x, int heads, int frames, int height, int width, int frameOffset, Tensor table);

    /**
     * Scaled dot-product attention, per head, with softmax scale 1/sqrt(headDim). q is [nq, heads*headDim],
     * k and v are [nk, heads*headDim], out is [nq, heads*headDim]. Chunk-causal mask: query i sits at key
     * position {@code queryOffset + i}, and sees keys j < min(nk, (⌊(queryOffset+i)/chunkTokens⌋ + 1)·chunkTokens).
     * chunkTokens = 0 means no mask: a chunk attending to a KV cache that holds exactly the keys it may see
     * passes that. The mask serves whole-sequence passes (several chunks at once, queryOffset 0).
     */
    void attention(Tensor q, Tensor k, Tensor v, Tensor out, int heads, long queryOffset, long chunkTokens);

    /**
     * Attention with an additive logit bias, as T5 uses it: per head h, out = softmax(scale · q·kᵀ + bias[h]) · v,
     * q [nq, heads·headDim], k and v [nk, heads·headDim], bias F32 [heads, nq, nk] (relative-position terms;
     * -inf or a very negative value masks a key), out [nq, heads·headDim]. T5 passes scale 1: it does not scale.
     */
    void biasedAttention(Tensor q, Tensor k, Tensor v, Tensor bias, int heads, float scale, Tensor out);

    /**
     * Non-overlapping 3D patches (a Conv3d with kernel = stride): latent [C, F, H, W] to
     * out [(F/pt)(H/ph)(W/pw), C·pt·ph·pw], tokens ordered (f, h, w), features ordered (c, kt, kh, kw) to
     * match a flattened Conv3d weight [dim, C, pt, ph, pw].
     */
    void patchify(Tensor latent, int pt, int ph, int pw, Tensor out);

    /**
     * The inverse layout of Wan's head: tokens [(F/pt)(H/ph)(W/pw), pt·ph·pw·C] with features ordered
     * (kt, kh, kw, c) to out [C, F, H, W].
     */
    void unpatchify(Tensor tokens, int pt, int ph, int pw, Tensor out);

    /**
     * A 3D convolution over channels-last activations, as the VAE decoder uses it: x [Tin, H, W, Cin],
     * w [Cout, kt, kh, kw, Cin] (a Conv3d weight with its input-channel axis moved last), bias [Cout] or null,
     * out [Tin - kt + 1, H, W, Cout]. Valid in time (the caller prepends the past frames a causal conv needs),
     * zero-padded by kh/2 and kw/2 in space (kh and kw odd), stride 1.
     */
    void conv3d(Tensor x, Tensor w, Tensor bias, Tensor out);

    /** Nearest-neighbour 2x upsampling in space of channels-last frames: x [T, H, W, C] to out [T, 2H, 2W, C]. */
    void upsampleNearest2x(Tensor x, Tensor out);

    /**
     * The motion-consistency metric of tools/eval/metrics.py {@code flow_warp_error}, fused: for each pair of
     * consecutive frames, how well frame t warped by a local-correlation flow predicts frame t + 1.
     *
     * <p>frames is F32 [count, H, W, C], channels-last, values in [-1, 1] (mapped to [0, 1] as (v + 1) / 2
     * before anything else); error is F32 [count - 1] and is overwritten. For each pixel (y, x) of frame t + 1:
     * the squared colour distance d to every pixel of the window x window neighbourhood around (y, x) in
     * frame t (offsets -r..r with r = window / 2, coordinates clamped to the frame: replicate padding); a
     * softmax over the window of -d / temperature; the expected displacement (fy, fx) under it; frame t sampled
     * bilinearly at (y + fy, x + fx), the coordinate clamped into the frame (grid_sample with
     * align_corners=True and border padding). error[t] is the mean absolute difference between that warped
     * frame and frame t + 1 over all pixels and channels. The reference uses window 7 and temperature 0.02.
     *
     * <p>Requires count >= 2, window odd and >= 1, temperature > 0 and finite. (For a frame one pixel wide or
     * high the reference divides by zero; here the sample coordinate is simply clamped to that one pixel.)
     */
    void flowWarpError(Tensor frames, int window, float temperature, Tensor error);

    /** Flow matching, x0 from the predicted flow: out = xt - sigma * v. */
    void flowToX0(Tensor xt, Tensor v, float sigma, Tensor out);

    /** Flow matching forward process: out = (1 - sigma) * x0 + sigma * noise. */
    void addNoise(Tensor x0, Tensor noise, float sigma, Tensor out);

    /**
     * One diagonal denoising step in one pass over the data: x0 = xt - sigma·v, then
     * next = (1 - nextSigma)·x0 + nextSigma·noise, with the same values as {@link #flowToX0} followed by
     * {@link #addNoise} on that x0. next may alias xt (the sampler re-noises into its input buffer).
     */
    void flowStep(Tensor xt, Tensor v, Tensor noise, float sigma, float nextSigma, Tensor x0, Tensor next);

    /** Waits until queued work is done (a no-op on the CPU). */
    default void synchronize() {
    }

    @Override
    void close();
}
