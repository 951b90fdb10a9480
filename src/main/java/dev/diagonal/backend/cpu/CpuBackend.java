package dev.diagonal.backend.cpu;

import dev.diagonal.backend.Backend;
import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Device;
import dev.diagonal.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * The reference backend: every op in plain Java on the host, vectorized with the Vector API and split over
 * a thread pool that this instance owns (no static pools, no global state). Each op validates its arguments
 * and throws IllegalArgumentException naming the op and the shapes.
 *
 * <p>One instance serves one caller thread at a time; ops fan out internally.
 */
public final class CpuBackend implements Backend {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    private final Parallel parallel;
    private final Gemm gemm;
    private final Pointwise pointwise;
    private final Norms norms;
    private final Rope rope;
    private final FlashAttention attention;
    private final Patches patches;
    private final Convolution convolution;
    private final FlowWarp flowWarp;

    /** A backend using every available processor. */
    public CpuBackend() {
        this(Runtime.getRuntime().availableProcessors());
    }

    /** A backend with {@code threads} compute threads in total (the calling thread is one of them). */
    public CpuBackend(int threads) {
        parallel = new Parallel(threads);
        gemm = new Gemm(parallel);
        pointwise = new Pointwise(parallel);
        norms = new Norms(parallel);
        rope = new Rope(parallel);
        attention = new FlashAttention(parallel);
        patches = new Patches(parallel);
        convolution = new Convolution(parallel, gemm);
        flowWarp = new FlowWarp(parallel);
    }

    /** Threads this backend computes with. */
    public int threads() {
        return parallel.threads();
    }

    /**
     * One line for the startup log: vector width and thread count, with a warning when the Vector API's
     * preferred width is narrower than 256 bits (no AVX2/AVX-512 found, or the JVM was told not to use it),
     * in which case the kernels still run but several times slower.
     */
    @Override
    public String describe() {
        int bits = F.vectorBitSize();
        String line = "cpu: FloatVector " + bits + "-bit (" + F.length() + " f32 lanes), " + threads()
                + (threads() == 1 ? " thread" : " threads");
        if (bits < 256) {
            line += " -- WARNING: the Vector API fell back to " + bits + "-bit vectors, not the native AVX2/AVX-512"
                    + " width; expect slow matmuls (check -XX:UseAVX and the CPU)";
        }
        return line;
    }

    @Override
    public String name() {
        return "cpu";
    }

    @Override
    public Device device() {
        return Device.CPU;
    }

    @Override
    public Tensor allocate(Arena arena, DType dtype, long... shape) {
        if (arena == null || dtype == null || shape == null) {
            throw new IllegalArgumentException("allocate: arena, dtype and shape are required");
        }
        // Arena memory is zeroed; 64-byte alignment keeps every 512-bit load within one cache line.
        return Tensor.allocate(arena, dtype, shape);
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        Checks.host("copy", "src", src);
        Checks.host("copy", "dst", dst);
        if (src.dtype() != dst.dtype() || src.numel() != dst.numel()) {
            throw Checks.fail("copy", "src " + src + " and dst " + dst + " must have the same dtype and element count");
        }
        MemorySegment.copy(src.data(), 0, dst.data(), 0, src.byteSize());
    }

    @Override
    public void copyRows(Tensor src, long srcRow, Tensor dst, long dstRow, long count) {
        String op = "copyRows";
        Checks.host(op, "src", src);
        Checks.host(op, "dst", dst);
        if (src.rank() < 1 || dst.rank() < 1 || src.dtype() != dst.dtype()) {
            throw Checks.fail(op, "src " + src + " and dst " + dst + " must be rank >= 1 with the same dtype");
        }
        long[] srcRowShape = Arrays.copyOfRange(src.shape(), 1, src.rank());
        long rowElems = Tensor.numel(srcRowShape);
        if (Tensor.numel(Arrays.copyOfRange(dst.shape(), 1, dst.rank())) != rowElems) {
            throw Checks.fail(op, "src " + src + " and dst " + dst + " rows differ in size");
        }
        if (count < 0 || srcRow < 0 || dstRow < 0 || srcRow + count > src.dim(0) || dstRow + count > dst.dim(0)) {
            throw Checks.fail(op, "rows [" + srcRow + ", " + (srcRow + count) + ") of " + src + " to ["
                    + dstRow + ", " + (dstRow + count) + ") of " + dst + " are out of range");
        }
        long rowBytes = rowElems * src.dtype().bytes();
        // MemorySegment.copy is a memmove: overlapping ranges of one tensor copy correctly.
        MemorySegment.copy(src.data(), srcRow * rowBytes, dst.data(), dstRow * rowBytes, count * rowBytes);
    }

    @Override
    public void linear(Tensor x, Tensor w, Tensor bias, Tensor out) {
        gemm.linear(x, w, bias, out);
    }

    @Override
    public void layerNorm(Tensor x, Tensor weight, Tensor bias, float eps, Tensor out) {
        norms.layerNorm(x, weight, bias, eps, out);
    }

    @Override
    public void rmsNorm(Tensor x, Tensor weight, float eps, Tensor out) {
        norms.rmsNorm(x, weight, eps, out);
    }

    @Override
    public void modulate(Tensor x, Tensor shift, Tensor scale, int rowsPerFrame, Tensor out) {
        pointwise.modulate(x, shift, scale, rowsPerFrame, out);
    }

    @Override
    public void gatedAdd(Tensor x, Tensor y, Tensor gate, int rowsPerFrame) {
        pointwise.gatedAdd(x, y, gate, rowsPerFrame);
    }

    @Override
    public void addRow(Tensor x, Tensor row) {
        pointwise.addRow(x, row);
    }

    @Override
    public void add(Tensor x, Tensor y) {
        pointwise.add(x, y);
    }

    @Override
    public void mul(Tensor x, Tensor y) {
        pointwise.mul(x, y);
    }

    @Override
    public void biasedAttention(Tensor q, Tensor k, Tensor v, Tensor bias, int heads, float scale, Tensor out) {
        BiasedAttention.attention(parallel, q, k, v, bias, heads, scale, out);
    }

    @Override
    public void geluTanh(Tensor x) {
        pointwise.geluTanh(x);
    }

    @Override
    public void silu(Tensor x) {
        pointwise.silu(x);
    }

    @Override
    public void rope3d(Tensor x, int heads, int frames, int height, int width, int frameOffset, Tensor table) {
        rope.rope3d(x, heads, frames, height, width, frameOffset, table);
    }

    @Override
    public void attention(Tensor q, Tensor k, Tensor v, Tensor out, int heads, long queryOffset, long chunkTokens) {
        attention.attention(q, k, v, out, heads, queryOffset, chunkTokens);
    }

    @Override
    public void patchify(Tensor latent, int pt, int ph, int pw, Tensor out) {
        patches.patchify(latent, pt, ph, pw, out);
    }

    @Override
    public void unpatchify(Tensor tokens, int pt, int ph, int pw, Tensor out) {
        patches.unpatchify(tokens, pt, ph, pw, out);
    }

    @Override
    public void conv3d(Tensor x, Tensor w, Tensor bias, Tensor out) {
        convolution.conv3d(x, w, bias, out);
    }

    @Override
    public void upsampleNearest2x(Tensor x, Tensor out) {
        convolution.upsampleNearest2x(x, out);
    }

    @Override
    public void flowWarpError(Tensor frames, int window, float temperature, Tensor error) {
        flowWarp.flowWarpError(frames, window, temperature, error);
    }

    @Override
    public void flowToX0(Tensor xt, Tensor v, float sigma, Tensor out) {
        pointwise.axpby("flowToX0", xt, 1f, v, -sigma, out);
    }

    @Override
    public void addNoise(Tensor x0, Tensor noise, float sigma, Tensor out) {
        pointwise.axpby("addNoise", x0, 1f - sigma, noise, sigma, out);
    }

    @Override
    public void flowStep(Tensor xt, Tensor v, Tensor noise, float sigma, float nextSigma, Tensor x0, Tensor next) {
        pointwise.flowStep(xt, v, noise, sigma, nextSigma, x0, next);
    }

    @Override
    public void close() {
        convolution.close();
        parallel.close();
    }
}
