package dev.diagonal.backend.cuda;

import dev.diagonal.backend.Backend;
import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Device;
import dev.diagonal.tensor.Tensor;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUevent;
import jcuda.driver.CUfunction;
import jcuda.driver.CUfunction_attribute;
import jcuda.driver.CUresult;
import jcuda.driver.JCudaDriver;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Locale;

import static jcuda.driver.JCudaDriver.cuCtxSetCurrent;

/**
 * The ops on an NVIDIA GPU: hand-written kernels (kernels/*.cu, loaded as PTX through JCuda's driver API) and
 * cuBLAS for {@link #linear}. Every op is queued on this backend's stream and returns at once; copies to the
 * host and {@link #synchronize} wait. Tensors live in device memory owned by the arena given to
 * {@link #allocate}: a CUDA tensor's segment holds the device address and size, never host bytes.
 *
 * <p>The instance owns its context (the device's primary context, retained), kernel modules, stream, cuBLAS
 * handle and scratch; nothing is static. It makes its context current on the calling thread at each op, so it
 * may be used from any thread, one at a time. Argument checks mirror the CPU backend's, with device and dtype
 * checks on top; a failing check throws IllegalArgumentException naming the op and the shapes.
 *
 * <p>Vectors (biases, norm weights, modulation tables) must be F32 here, as {@code Parameters} loads them;
 * weight matrices may be F32, BF16 or F16.
 */
public final class CudaBackend implements Backend {
    private final int ordinal;
    private final CUdevice device;
    private final CUcontext context;
    private final String deviceName;
    private final long totalMemory;
    private final int computeMajor;
    private final int computeMinor;
    private final int multiprocessors;
    private final Handles.Stream stream;
    private final Arena own;
    private final KernelArgs args;
    private final CudaModules modules;
    private final Cublas cublas;

    /** Device scratch for linear's narrowed activations: grows to the largest need, freed on close. */
    private long scratch;
    private long scratchBytes;
    private volatile boolean closed;

    private CudaBackend(int ordinal, CUdevice device, CUcontext context, Handles.Stream stream, Cublas cublas) {
        this.ordinal = ordinal;
        this.device = device;
        this.context = context;
        this.stream = stream;
        this.cublas = cublas;
        this.own = Arena.ofShared();
        this.args = new KernelArgs(own);
        this.modules = new CudaModules();
        byte[] name = new byte[256];
        JCudaDriver.cuDeviceGetName(name, name.length, device);
        int len = 0;
        while (len < name.length && name[len] != 0) {
            len++;
        }
        this.deviceName = new String(name, 0, len, StandardCharsets.UTF_8);
        long[] total = new long[1];
        JCudaDriver.cuDeviceTotalMem(total, device);
        this.totalMemory = total[0];
        this.computeMajor = attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
        this.computeMinor = attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
        this.multiprocessors = attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
    }

    /**
     * Opens GPU {@code deviceIndex} (as nvidia-smi numbers them, unless CUDA_VISIBLE_DEVICES says otherwise).
     *
     * @throws CudaUnavailableException when this machine has no CUDA driver, the driver will not initialise,
     *                                  there is no such device, or cuBLAS is missing
     */
    public static CudaBackend open(int deviceIndex) {
        if (deviceIndex < 0) {
            throw new IllegalArgumentException("CUDA device index must be >= 0, got " + deviceIndex);
        }
        Driver.init();
        int[] count = new int[1];
        Driver.check(JCudaDriver.cuDeviceGetCount(count), "cuDeviceGetCount");
        if (count[0] == 0) {
            throw new CudaUnavailableException("no CUDA device on this machine (the driver is installed but sees none)");
        }
        if (deviceIndex >= count[0]) {
            throw new CudaUnavailableException("CUDA device " + deviceIndex + " does not exist: this machine has "
                    + count[0] + " (cuda:0" + (count[0] > 1 ? " .. cuda:" + (count[0] - 1) : "") + ")");
        }
        CUdevice device = new CUdevice();
        Driver.check(JCudaDriver.cuDeviceGet(device, deviceIndex), "cuDeviceGet(" + deviceIndex + ")");
        CUcontext context = new CUcontext();
        Driver.check(JCudaDriver.cuDevicePrimaryCtxRetain(context, device), "cuDevicePrimaryCtxRetain");
        Handles.Stream stream = null;
        Cublas cublas = null;
        try {
            Driver.check(cuCtxSetCurrent(context), "cuCtxSetCurrent");
            stream = new Handles.Stream();
            // A blocking stream (flags 0): it also orders with the legacy default stream that other CUDA code
            // in the process may use.
            Driver.check(JCudaDriver.cuStreamCreate(stream, 0), "cuStreamCreate");
            cublas = Cublas.open(stream.address());
            return new CudaBackend(deviceIndex, device, context, stream, cublas);
        } catch (RuntimeException | Error e) {
            if (cublas != null) {
                cublas.close();
            }
            if (stream != null && stream.address() != 0) {
                JCudaDriver.cuStreamDestroy(stream);
            }
            JCudaDriver.cuDevicePrimaryCtxRelease(device);
            throw e;
        }
    }

    @Override
    public String name() {
        return "cuda:" + ordinal;
    }

    @Override
    public String describe() {
        return String.format(Locale.ROOT, "%s: %s (compute %d.%d, %d SMs, %.1f GiB), cuBLAS %s", name(), deviceName,
                computeMajor, computeMinor, multiprocessors, totalMemory / (double) (1L << 30), cublas.library());
    }

    @Override
    public Device device() {
        return Device.CUDA;
    }

    /** A zero-filled device tensor; the arena's closing frees it (cuMemFree). */
    @Override
    public Tensor allocate(Arena arena, DType dtype, long... shape) {
        if (arena == null || dtype == null || shape == null) {
            throw new IllegalArgumentException("allocate: arena, dtype and shape are required");
        }
        long bytes = Math.multiplyExact(Tensor.numel(shape), dtype.bytes());
        if (bytes == 0) {
            return Tensor.of(MemorySegment.NULL, dtype, Device.CUDA, shape);
        }
        bind();
        long address = deviceAlloc(bytes);
        try {
            Driver.check(JCudaDriver.cuMemsetD8Async(Handles.device(address), (byte) 0, bytes, stream), "cuMemsetD8Async");
            MemorySegment segment = MemorySegment.ofAddress(address).reinterpret(bytes, arena, s -> release(address));
            return Tensor.of(segment, dtype, Device.CUDA, shape);
        } catch (RuntimeException e) {
            deviceFree(address);
            throw e;
        }
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        String op = "copy";
        notNull(op, "src", src);
        notNull(op, "dst", dst);
        if (src.dtype() != dst.dtype() || src.numel() != dst.numel()) {
            throw fail(op, "src " + src + " and dst " + dst + " must have the same dtype and element count");
        }
        transfer(src, 0, dst, 0, src.byteSize());
    }

    @Override
    public void copyRows(Tensor src, long srcRow, Tensor dst, long dstRow, long count) {
        String op = "copyRows";
        notNull(op, "src", src);
        notNull(op, "dst", dst);
        if (src.rank() < 1 || dst.rank() < 1 || src.dtype() != dst.dtype()) {
            throw fail(op, "src " + src + " and dst " + dst + " must be rank >= 1 with the same dtype");
        }
        long rowElems = Tensor.numel(Arrays.copyOfRange(src.shape(), 1, src.rank()));
        if (Tensor.numel(Arrays.copyOfRange(dst.shape(), 1, dst.rank())) != rowElems) {
            throw fail(op, "src " + src + " and dst " + dst + " rows differ in size");
        }
        if (count < 0 || srcRow < 0 || dstRow < 0 || srcRow + count > src.dim(0) || dstRow + count > dst.dim(0)) {
            throw fail(op, "rows [" + srcRow + ", " + (srcRow + count) + ") of " + src + " to ["
                    + dstRow + ", " + (dstRow + count) + ") of " + dst + " are out of range");
        }
        long rowBytes = rowElems * src.dtype().bytes();
        if (count == 0 || rowBytes == 0) {
            return;
        }
        long from = src.data().address() + srcRow * rowBytes;
        long to = dst.data().address() + dstRow * rowBytes;
        long bytes = count * rowBytes;
        boolean overlap = src.device() == Device.CUDA && dst.device() == Device.CUDA
                && from < to + bytes && to < from + bytes;
        if (src.dtype() == DType.F32 && src.device() == Device.CUDA && dst.device() == Device.CUDA
                || overlap && rowBytes % Float.BYTES == 0) {
            // copy_rows_f32 moves 4-byte words and is safe for overlapping rows of one tensor (the KV cache's
            // shift); rows of other dtypes whose size is a multiple of 4 bytes move the same way.
            int cols = toInt(op, "row length in 4-byte words", rowBytes / Float.BYTES);
            bind();
            launch(Kernel.COPY_ROWS, Launch.elementwise(count * cols), args().address(from).address(to).i64(count).i32(cols));
        } else if (overlap) {
            throw fail(op, "overlapping rows of " + src + " (" + rowBytes + " bytes each, not whole 4-byte words)");
        } else {
            transfer(src, srcRow * rowBytes, dst, dstRow * rowBytes, bytes);
        }
    }

    @Override
    public void linear(Tensor x, Tensor w, Tensor bias, Tensor out) {
        String op = "linear";
        f32(op, "x", x);
        computeFloat(op, "w", w);
        f32(op, "out", out);
        if (w.rank() != 2) {
            throw fail(op, "w must be [m, k], got " + w);
        }
        int k = cols(op, "x", x);
        int m = toInt(op, "m", w.dim(0));
        if (w.dim(1) != k) {
            throw fail(op, "x " + x + " has k = " + k + " but w " + w + " has k = " + w.dim(1));
        }
        if (out.dim(-1) != m || rows(out) != rows(x) && m != 0) {
            throw fail(op, "out " + out + " must be [" + rows(x) + ", " + m + "] for x " + x + " and w " + w);
        }
        if (bias != null) {
            vectorOf(op, "bias", bias, m);
        }
        int n = toInt(op, "rows of x", rows(x));
        if (n == 0 || m == 0) {
            return;
        }
        bind();
        if (k == 0) {
            Driver.check(JCudaDriver.cuMemsetD8Async(Handles.device(out.data().address()), (byte) 0, out.byteSize(), stream),
                    "cuMemsetD8Async");
        } else {
            // Row-major out[n, m] = x[n, k] · w[m, k]ᵀ is, column-major, C[m, n] = Aᵀ·B with A = w seen as
            // [k, m] (lda = k), B = x seen as [k, n] (ldb = k), ldc = m.
            long b = x.data().address();
            int type = Cublas.CUDA_R_32F;
            if (w.dtype() != DType.F32) {
                // cuBLAS wants both operands in one type: x is narrowed to w's, into this backend's scratch.
                long elems = (long) n * k;
                b = scratch(elems * 2);
                launch(w.dtype() == DType.BF16 ? Kernel.TO_BF16 : Kernel.TO_F16, Launch.elementwise(elems),
                        args().pointer(x).address(b).i64(elems));
                type = w.dtype() == DType.BF16 ? Cublas.CUDA_R_16BF : Cublas.CUDA_R_16F;
            }
            cublas.gemm(Cublas.OP_T, Cublas.OP_N, m, n, k, w.data().address(), type, k, b, type, k,
                    out.data().address(), m);
        }
        if (bias != null) {
            launch(Kernel.ADD_ROW, Launch.elementwise((long) n * m), args().pointer(out).pointer(bias).i64(n).i32(m));
        }
    }

    @Override
    public void layerNorm(Tensor x, Tensor weight, Tensor bias, float eps, Tensor out) {
        String op = "layerNorm";
        int cols = sameShapeRows(op, x, out);
        if (weight != null) {
            vectorOf(op, "weight", weight, cols);
        }
        if (bias != null) {
            vectorOf(op, "bias", bias, cols);
        }
        long rows = rows(x);
        if (rows == 0 || cols == 0) {
            return;
        }
        bind();
        launch(Kernel.LAYER_NORM, Launch.rows(rows),
                args().pointer(x).pointer(weight).pointer(bias).f32(eps).pointer(out).i64(rows).i32(cols));
    }

    @Override
    public void rmsNorm(Tensor x, Tensor weight, float eps, Tensor out) {
        String op = "rmsNorm";
        int cols = sameShapeRows(op, x, out);
        if (weight != null) {
            vectorOf(op, "weight", weight, cols);
        }
        long rows = rows(x);
        if (rows == 0 || cols == 0) {
            return;
        }
        bind();
        launch(Kernel.RMS_NORM, Launch.rows(rows), args().pointer(x).pointer(weight).f32(eps).pointer(out).i64(rows).i32(cols));
    }

    /**
     * The DiT block's fused prologue: LayerNorm without affine, then {@link #modulate}'s adaLN modulation per
     * frame, in one pass (layer_norm_modulate_f32). Equal to {@code layerNorm(x, null, null, eps, out)} followed
     * by {@code modulate(out, shift, scale, rowsPerFrame, out)}; out may equal x.
     */
    public void layerNormModulate(Tensor x, float eps, Tensor shift, Tensor scale, int rowsPerFrame, Tensor out) {
        String op = "layerNormModulate";
        int cols = sameShapeRows(op, x, out);
        long rows = rows(x);
        perFrame(op, "shift", shift, cols, rows, rowsPerFrame);
        perFrame(op, "scale", scale, cols, rows, rowsPerFrame);
        if (rows == 0 || cols == 0) {
            return;
        }
        bind();
        launch(Kernel.LAYER_NORM_MODULATE, Launch.rows(rows), args().pointer(x).f32(eps).pointer(shift).pointer(scale)
                .pointer(out).i64(rows).i32(cols).i32(rowsPerFrame));
    }

    @Override
    public void modulate(Tensor x, Tensor shift, Tensor scale, int rowsPerFrame, Tensor out) {
        String op = "modulate";
        int cols = sameShapeRows(op, x, out);
        long rows = rows(x);
        perFrame(op, "shift", shift, cols, rows, rowsPerFrame);
        perFrame(op, "scale", scale, cols, rows, rowsPerFrame);
        if (rows * cols == 0) {
            return;
        }
        bind();
        launch(Kernel.MODULATE, Launch.elementwise(rows * cols), args().pointer(x).pointer(shift).pointer(scale)
                .pointer(out).i64(rows).i32(cols).i32(rowsPerFrame));
    }

    @Override
    public void gatedAdd(Tensor x, Tensor y, Tensor gate, int rowsPerFrame) {
        String op = "gatedAdd";
        f32(op, "x", x);
        f32(op, "y", y);
        sameShape(op, "x", x, "y", y);
        int cols = cols(op, "x", x);
        long rows = rows(x);
        perFrame(op, "gate", gate, cols, rows, rowsPerFrame);
        if (rows * cols == 0) {
            return;
        }
        bind();
        launch(Kernel.GATED_ADD, Launch.elementwise(rows * cols),
                args().pointer(x).pointer(y).pointer(gate).i64(rows).i32(cols).i32(rowsPerFrame));
    }

    @Override
    public void addRow(Tensor x, Tensor row) {
        String op = "addRow";
        f32(op, "x", x);
        int cols = cols(op, "x", x);
        vectorOf(op, "row", row, cols);
        long rows = rows(x);
        if (rows * cols == 0) {
            return;
        }
        bind();
        launch(Kernel.ADD_ROW, Launch.elementwise(rows * cols), args().pointer(x).pointer(row).i64(rows).i32(cols));
    }

    @Override
    public void add(Tensor x, Tensor y) {
        binary("add", Kernel.ADD, x, y);
    }

    @Override
    public void mul(Tensor x, Tensor y) {
        binary("mul", Kernel.MUL, x, y);
    }

    @Override
    public void geluTanh(Tensor x) {
        unary("geluTanh", Kernel.GELU_TANH, x);
    }

    @Override
    public void silu(Tensor x) {
        unary("silu", Kernel.SILU, x);
    }

    @Override
    public void rope3d(Tensor x, int heads, int frames, int height, int width, int frameOffset, Tensor table) {
        String op = "rope3d";
        f32(op, "x", x);
        f32(op, "table", table);
        if (heads <= 0 || frames < 0 || height < 0 || width < 0 || frameOffset < 0) {
            throw fail(op, "bad geometry heads=" + heads + " frames=" + frames + " height=" + height
                    + " width=" + width + " frameOffset=" + frameOffset);
        }
        int dim = cols(op, "x", x);
        if (dim % heads != 0 || (dim / heads) % 2 != 0) {
            throw fail(op, "x " + x + " does not split into " + heads + " heads of an even head dim");
        }
        int headDim = dim / heads;
        int c = headDim / 2;
        long tokens = (long) frames * height * width;
        if (rows(x) != tokens) {
            throw fail(op, "x " + x + " must have " + frames + "x" + height + "x" + width + " = " + tokens + " rows");
        }
        if (table.rank() != 3 || table.dim(1) != c || table.dim(2) != 2) {
            throw fail(op, "table " + table + " must be [maxPositions, " + c + ", 2] for head dim " + headDim);
        }
        long maxNeeded = Math.max(frames == 0 ? 0 : (long) frameOffset + frames, Math.max(height, width));
        if (maxNeeded > table.dim(0)) {
            throw fail(op, "table " + table + " has " + table.dim(0) + " positions but frameOffset " + frameOffset
                    + " + frames " + frames + ", height " + height + ", width " + width + " need " + maxNeeded);
        }
        toInt(op, "tokens", tokens);
        long pairs = tokens * heads * c;
        if (pairs == 0) {
            return;
        }
        bind();
        // rope.cu: one thread per rotated pair (token, head, j), 1-D.
        launch(Kernel.ROPE3D, Launch.elementwise(pairs), args().pointer(x).i32(heads).i32(headDim).i32(frames)
                .i32(height).i32(width).i32(frameOffset).pointer(table));
    }

    @Override
    public void attention(Tensor q, Tensor k, Tensor v, Tensor out, int heads, long queryOffset, long chunkTokens) {
        String op = "attention";
        f32(op, "q", q);
        f32(op, "k", k);
        f32(op, "v", v);
        f32(op, "out", out);
        if (q.rank() != 2 || k.rank() != 2 || v.rank() != 2 || out.rank() != 2) {
            throw fail(op, "q " + q + ", k " + k + ", v " + v + ", out " + out + " must all be rank 2");
        }
        int dim = toInt(op, "q width", q.dim(1));
        if (heads <= 0 || dim % heads != 0 || dim == 0) {
            throw fail(op, "q " + q + " does not split into " + heads + " heads");
        }
        if (k.dim(1) != dim || v.dim(1) != dim || out.dim(1) != dim) {
            throw fail(op, "q " + q + ", k " + k + ", v " + v + ", out " + out + " must share width " + dim);
        }
        if (v.dim(0) != k.dim(0) || out.dim(0) != q.dim(0)) {
            throw fail(op, "k " + k + " and v " + v + " must share rows, q " + q + " and out " + out + " too");
        }
        if (queryOffset < 0 || chunkTokens < 0) {
            throw fail(op, "queryOffset " + queryOffset + " and chunkTokens " + chunkTokens + " must be >= 0");
        }
        int nq = toInt(op, "nq", q.dim(0));
        int nk = toInt(op, "nk", k.dim(0));
        if (nq == 0) {
            return;
        }
        if (nk == 0) {
            throw fail(op, "no keys (k " + k + ") for " + nq + " queries: softmax over nothing");
        }
        if (nq > Integer.MAX_VALUE - Launch.ATTENTION_QUERY_TILE) {
            // attention.cu indexes a tile's rows as int r0 + 8: past this the last tile's rows would overflow.
            throw fail(op, nq + " queries: at most " + (Integer.MAX_VALUE - Launch.ATTENTION_QUERY_TILE));
        }
        int headDim = dim / heads;
        if (headDim > Launch.ATTENTION_HEAD_SLICE && out.data().address() == q.data().address()) {
            // Wider heads run in slices that each read the whole q row: one slice's output would clobber
            // another's input.
            throw fail(op, "out may not be q itself for head dim " + headDim + " > " + Launch.ATTENTION_HEAD_SLICE);
        }
        float scale = (float) (1.0 / Math.sqrt(headDim));
        bind();
        launch(Kernel.ATTENTION, Launch.attention(nq, heads, headDim), args().pointer(q).pointer(k).pointer(v).pointer(out)
                .i32(nq).i32(nk).i32(heads).i32(headDim).i64(queryOffset).i64(chunkTokens).f32(scale));
    }

    @Override
    public void biasedAttention(Tensor q, Tensor k, Tensor v, Tensor bias, int heads, float scale, Tensor out) {
        String op = "biasedAttention";
        f32(op, "q", q);
        f32(op, "k", k);
        f32(op, "v", v);
        f32(op, "bias", bias);
        f32(op, "out", out);
        if (q.rank() != 2 || k.rank() != 2 || v.rank() != 2 || out.rank() != 2 || heads < 1 || q.dim(1) % heads != 0
                || k.dim(1) != q.dim(1) || v.dim(1) != q.dim(1) || !Arrays.equals(out.shape(), q.shape())
                || k.dim(0) != v.dim(0)) {
            throw fail(op, "q " + q + ", k " + k + ", v " + v + ", out " + out + " do not fit " + heads + " heads");
        }
        int nq = toInt(op, "queries", q.dim(0));
        int nk = toInt(op, "keys", k.dim(0));
        int headDim = toInt(op, "head dim", q.dim(1) / heads);
        if (bias.rank() != 3 || bias.dim(0) != heads || bias.dim(1) != nq || bias.dim(2) != nk) {
            throw fail(op, "bias " + bias + " must be [" + heads + ", " + nq + ", " + nk + "]");
        }
        if (nq == 0 || headDim == 0) {
            return;
        }
        bind();
        launch(Kernel.BIASED_ATTENTION, Launch.biasedAttention(nq, nk, heads, headDim), args().pointer(q).pointer(k).pointer(v)
                .pointer(bias).pointer(out).i32(nq).i32(nk).i32(heads).i32(headDim).f32(scale));
    }

    @Override
    public void patchify(Tensor latent, int pt, int ph, int pw, Tensor out) {
        String op = "patchify";
        int[] g = grid(op, "latent", latent, pt, ph, pw);
        f32(op, "out", out);
        long tokens = (long) (g[1] / pt) * (g[2] / ph) * (g[3] / pw);
        long feat = (long) g[0] * pt * ph * pw;
        if (out.rank() != 2 || out.dim(0) != tokens || out.dim(1) != feat) {
            throw fail(op, "out " + out + " must be [" + tokens + ", " + feat + "] for latent " + latent
                    + " with patch " + pt + "x" + ph + "x" + pw);
        }
        layout(Kernel.PATCHIFY, latent, out, g, pt, ph, pw);
    }

    @Override
    public void unpatchify(Tensor tokens, int pt, int ph, int pw, Tensor out) {
        String op = "unpatchify";
        int[] g = grid(op, "out", out, pt, ph, pw);
        f32(op, "tokens", tokens);
        long n = (long) (g[1] / pt) * (g[2] / ph) * (g[3] / pw);
        long feat = (long) g[0] * pt * ph * pw;
        if (tokens.rank() != 2 || tokens.dim(0) != n || tokens.dim(1) != feat) {
            throw fail(op, "tokens " + tokens + " must be [" + n + ", " + feat + "] for out " + out
                    + " with patch " + pt + "x" + ph + "x" + pw);
        }
        layout(Kernel.UNPATCHIFY, tokens, out, g, pt, ph, pw);
    }

    // layout.cu: one thread per element of the (equal-sized) input and output, 1-D.
    private void layout(Kernel kernel, Tensor in, Tensor out, int[] g, int pt, int ph, int pw) {
        if (out.numel() == 0) {
            return;
        }
        bind();
        launch(kernel, Launch.elementwise(out.numel()), args().pointer(in).pointer(out).i32(g[0]).i32(g[1]).i32(g[2])
                .i32(g[3]).i32(pt).i32(ph).i32(pw));
    }

    @Override
    public void conv3d(Tensor x, Tensor w, Tensor bias, Tensor out) {
        String op = "conv3d";
        f32(op, "x", x);
        f32(op, "out", out);
        computeFloat(op, "w", w);
        if (x.rank() != 4 || w.rank() != 5 || out.rank() != 4) {
            throw fail(op, "x " + x + " and out " + out + " must be [T, H, W, C]; w " + w
                    + " must be [Cout, kt, kh, kw, Cin]");
        }
        int tin = toInt(op, "frames", x.dim(0));
        int h = toInt(op, "height", x.dim(1));
        int wd = toInt(op, "width", x.dim(2));
        int cin = toInt(op, "channels", x.dim(3));
        int cout = toInt(op, "out channels", w.dim(0));
        int kt = toInt(op, "kt", w.dim(1));
        int kh = toInt(op, "kh", w.dim(2));
        int kw = toInt(op, "kw", w.dim(3));
        if (w.dim(4) != cin || kh % 2 == 0 || kw % 2 == 0 || kt > tin) {
            throw fail(op, "w " + w + " does not fit x " + x + " (Cin must match, kh and kw odd, kt <= frames)");
        }
        int tout = tin - kt + 1;
        if (out.dim(0) != tout || out.dim(1) != h || out.dim(2) != wd || out.dim(3) != cout) {
            throw fail(op, "out " + out + " must be [" + tout + ", " + h + ", " + wd + ", " + cout + "]");
        }
        if (bias != null) {
            vectorOf(op, "bias", bias, cout);
        }
        long pixels = (long) tout * h * wd;
        if (pixels == 0 || cout == 0) {
            return;
        }
        Kernel kernel = switch (w.dtype()) {
            case F32 -> Kernel.CONV3D_F32;
            case BF16 -> Kernel.CONV3D_BF16;
            case F16 -> Kernel.CONV3D_F16;
            default -> throw fail(op, "w must be F32, BF16 or F16, got " + w);
        };
        bind();
        launch(kernel, Launch.conv3d(pixels, cout), args().pointer(x).pointer(w).pointer(bias).pointer(out)
                .i32(tin).i32(h).i32(wd).i32(cin).i32(cout).i32(kt).i32(kh).i32(kw));
    }

    @Override
    public void upsampleNearest2x(Tensor x, Tensor out) {
        String op = "upsampleNearest2x";
        f32(op, "x", x);
        f32(op, "out", out);
        if (x.rank() != 4 || out.rank() != 4 || out.dim(0) != x.dim(0) || out.dim(1) != 2 * x.dim(1)
                || out.dim(2) != 2 * x.dim(2) || out.dim(3) != x.dim(3)) {
            throw fail(op, "x " + x + " must be [T, H, W, C] and out " + out + " [T, 2H, 2W, C]");
        }
        if (out.numel() == 0) {
            return;
        }
        bind();
        // layout.cu: one thread per output element, 1-D.
        launch(Kernel.UPSAMPLE_NEAREST2X, Launch.elementwise(out.numel()), args().pointer(x).pointer(out)
                .i32(toInt(op, "frames", x.dim(0))).i32(toInt(op, "height", x.dim(1)))
                .i32(toInt(op, "width", x.dim(2))).i32(toInt(op, "channels", x.dim(3))));
    }

    @Override
    public void flowToX0(Tensor xt, Tensor v, float sigma, Tensor out) {
        long n = sameCount("flowToX0", xt, v, out);
        if (n == 0) {
            return;
        }
        bind();
        launch(Kernel.FLOW_TO_X0, Launch.elementwise(n), args().pointer(xt).pointer(v).f32(sigma).pointer(out).i64(n));
    }

    @Override
    public void addNoise(Tensor x0, Tensor noise, float sigma, Tensor out) {
        long n = sameCount("addNoise", x0, noise, out);
        if (n == 0) {
            return;
        }
        bind();
        launch(Kernel.ADD_NOISE, Launch.elementwise(n), args().pointer(x0).pointer(noise).f32(sigma).pointer(out).i64(n));
    }

    /**
     * The fused diagonal step in one pass: x0 = xt - sigma·v, then next = (1 - nextSigma)·x0 + nextSigma·noise
     * ({@link #flowToX0} then {@link #addNoise}). next may be xt.
     */
    @Override
    public void flowStep(Tensor xt, Tensor v, Tensor noise, float sigma, float nextSigma, Tensor x0, Tensor next) {
        String op = "flowStep";
        long n = sameCount(op, xt, v, x0);
        if (sameCount(op, noise, next, xt) != n) {
            throw fail(op, "noise " + noise + " and next " + next + " differ in element count from xt " + xt);
        }
        if (n == 0) {
            return;
        }
        bind();
        launch(Kernel.FLOW_STEP, Launch.elementwise(n), args().pointer(xt).pointer(v).pointer(noise).f32(sigma)
                .f32(nextSigma).pointer(x0).pointer(next).i64(n));
    }

    /**
     * The motion metric of tools/eval/metrics.py {@code flow_warp_error}, fused: frames F32 [count, H, W, C] in
     * [-1, 1], error F32 [count - 1] (overwritten) gets, per consecutive pair, the mean absolute error of
     * frame t warped by a local-correlation flow against frame t + 1 (see the CPU backend's flowWarpError).
     */
    @Override
    public void flowWarpError(Tensor frames, int window, float temperature, Tensor error) {
        String op = "flowWarpError";
        f32(op, "frames", frames);
        f32(op, "error", error);
        if (frames.rank() != 4 || frames.dim(0) < 2) {
            throw fail(op, "frames " + frames + " must be [count >= 2, H, W, C]");
        }
        int count = toInt(op, "count", frames.dim(0));
        int h = toInt(op, "height", frames.dim(1));
        int w = toInt(op, "width", frames.dim(2));
        int c = toInt(op, "channels", frames.dim(3));
        if (error.numel() != count - 1) {
            throw fail(op, "error " + error + " must have " + (count - 1) + " elements for frames " + frames);
        }
        if (window < 1 || window % 2 == 0) {
            throw fail(op, "window must be odd and >= 1, got " + window);
        }
        if (!(temperature > 0) || Float.isInfinite(temperature)) {
            throw fail(op, "temperature must be positive and finite, got " + temperature);
        }
        if (h == 0 || w == 0 || c == 0) {
            throw fail(op, "frames " + frames + " have no pixels");
        }
        bind();
        // The kernel adds each block's share with atomics, so error starts at zero.
        Driver.check(JCudaDriver.cuMemsetD8Async(Handles.device(error.data().address()), (byte) 0, error.byteSize(), stream),
                "cuMemsetD8Async");
        launch(Kernel.FLOW_WARP_ERROR, Launch.flowWarp(w, h, count - 1), args().pointer(frames).pointer(error)
                .i32(count).i32(h).i32(w).i32(c).i32(window).f32(temperature));
    }

    /** Waits for everything queued on this backend's stream; a kernel's asynchronous failure surfaces here. */
    @Override
    public void synchronize() {
        bind();
        Driver.check(JCudaDriver.cuStreamSynchronize(stream), "cuStreamSynchronize (a queued kernel or copy failed)");
    }

    /**
     * Runs {@code work} (ops of this backend) between two events on the stream and returns the GPU time between
     * them in milliseconds; waits for the work to finish.
     */
    public float timeMillis(Runnable work) {
        bind();
        CUevent start = new CUevent();
        CUevent end = new CUevent();
        Driver.check(JCudaDriver.cuEventCreate(start, 0), "cuEventCreate");
        try {
            Driver.check(JCudaDriver.cuEventCreate(end, 0), "cuEventCreate");
            try {
                Driver.check(JCudaDriver.cuEventRecord(start, stream), "cuEventRecord");
                work.run();
                bind();
                Driver.check(JCudaDriver.cuEventRecord(end, stream), "cuEventRecord");
                Driver.check(JCudaDriver.cuEventSynchronize(end), "cuEventSynchronize");
                float[] ms = new float[1];
                Driver.check(JCudaDriver.cuEventElapsedTime(ms, start, end), "cuEventElapsedTime");
                return ms[0];
            } finally {
                JCudaDriver.cuEventDestroy(end);
            }
        } finally {
            JCudaDriver.cuEventDestroy(start);
        }
    }

    /** Device memory free and total, in bytes, as cuMemGetInfo reports them now. */
    public long[] memoryInfo() {
        bind();
        long[] free = new long[1];
        long[] total = new long[1];
        Driver.check(JCudaDriver.cuMemGetInfo(free, total), "cuMemGetInfo");
        return new long[] {free[0], total[0]};
    }

    /**
     * Waits for queued work, then frees the scratch, the cuBLAS handle, the modules and the stream, and releases
     * the context. Close the arenas of this backend's tensors first: once the device's primary context is
     * released by its last user, the driver has freed their memory with it.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        bind();
        JCudaDriver.cuStreamSynchronize(stream);
        closed = true;
        if (scratch != 0) {
            deviceFree(scratch);
            scratch = 0;
        }
        cublas.close();
        modules.close();
        JCudaDriver.cuStreamDestroy(stream);
        own.close();
        JCudaDriver.cuDevicePrimaryCtxRelease(device);
    }

    // --- launching ---

    private KernelArgs args() {
        return args.clear();
    }

    private void launch(Kernel kernel, Launch l, KernelArgs a) {
        a.checkAgainst(kernel);
        CUfunction f = modules.function(kernel);
        if (l.sharedBytes() > Launch.DEFAULT_SHARED_LIMIT) {
            // Beyond 48 KiB a kernel must opt in to more dynamic shared memory (up to the device's limit).
            Driver.check(JCudaDriver.cuFuncSetAttribute(f,
                    CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, l.sharedBytes()),
                    "cuFuncSetAttribute(" + kernel.symbol + ", " + l.sharedBytes() + " bytes of shared memory)");
        }
        int r = JCudaDriver.cuLaunchKernel(f, l.gridX(), l.gridY(), l.gridZ(), l.blockX(),
                l.blockY(), l.blockZ(), l.sharedBytes(), stream, a.kernelParams(), null);
        if (r != CUresult.CUDA_SUCCESS) {
            throw new CudaException("launch of " + kernel.symbol + " (grid " + l.gridX() + "x" + l.gridY() + "x"
                    + l.gridZ() + ", block " + l.blockX() + "x" + l.blockY() + "x" + l.blockZ() + ", " + a.count()
                    + " arguments) failed: " + Driver.errorName(r));
        }
    }

    /** Makes this backend's context current on the calling thread (a thread-local setting of the driver). */
    private void bind() {
        if (closed) {
            throw new IllegalStateException(name() + " is closed");
        }
        Driver.check(cuCtxSetCurrent(context), "cuCtxSetCurrent");
    }

    private int attribute(int attribute) {
        int[] v = new int[1];
        Driver.check(JCudaDriver.cuDeviceGetAttribute(v, attribute, device), "cuDeviceGetAttribute");
        return v[0];
    }

    // --- memory ---

    private long deviceAlloc(long bytes) {
        Handles.DevicePointer p = new Handles.DevicePointer();
        int r = JCudaDriver.cuMemAlloc(p, bytes);
        if (r == CUresult.CUDA_ERROR_OUT_OF_MEMORY) {
            long[] free = new long[1];
            long[] total = new long[1];
            JCudaDriver.cuMemGetInfo(free, total);
            throw new CudaOutOfMemoryException(String.format(Locale.ROOT,
                    "%s: out of device memory allocating %d bytes (%.2f GiB); %.2f GiB free of %.2f GiB", name(), bytes,
                    bytes / GIB, free[0] / GIB, total[0] / GIB));
        }
        Driver.check(r, "cuMemAlloc(" + bytes + " bytes)");
        return p.address();
    }

    private static final double GIB = 1L << 30;

    private void deviceFree(long address) {
        JCudaDriver.cuMemFree(Handles.device(address));
    }

    /**
     * The arena cleanup of a device tensor, on whichever thread closes the arena. After this backend closed,
     * the memory went with the context unless another user still holds the device's primary context.
     * Failures are not thrown (an arena's close is no place to fail): they mean the context is gone, or an
     * earlier kernel failed, which the next synchronize or copy reports.
     */
    private void release(long address) {
        if (closed) {
            int[] flags = new int[1];
            int[] active = new int[1];
            if (JCudaDriver.cuDevicePrimaryCtxGetState(device, flags, active) != CUresult.CUDA_SUCCESS || active[0] == 0) {
                return;
            }
        }
        if (cuCtxSetCurrent(context) == CUresult.CUDA_SUCCESS) {
            deviceFree(address);
        }
    }

    private long scratch(long bytes) {
        if (bytes > scratchBytes) {
            if (scratch != 0) {
                deviceFree(scratch); // cuMemFree waits for queued work that may still read it
                scratch = 0;
                scratchBytes = 0;
            }
            scratch = deviceAlloc(bytes);
            scratchBytes = bytes;
        }
        return scratch;
    }

    /** Bytes between host and device memory in any direction; device-to-device stays on the stream. */
    private void transfer(Tensor src, long srcOffset, Tensor dst, long dstOffset, long bytes) {
        if (bytes == 0) {
            return;
        }
        boolean fromHost = src.device() == Device.CPU;
        boolean toHost = dst.device() == Device.CPU;
        if (fromHost && toHost) {
            MemorySegment.copy(src.data(), srcOffset, dst.data(), dstOffset, bytes);
            return;
        }
        bind();
        if (!fromHost && !toHost) {
            Driver.check(JCudaDriver.cuMemcpyDtoDAsync(Handles.device(dst.data().address() + dstOffset),
                    Handles.device(src.data().address() + srcOffset), bytes, stream), "cuMemcpyDtoDAsync");
            return;
        }
        MemorySegment host = (fromHost ? src : dst).data().asSlice(fromHost ? srcOffset : dstOffset, bytes);
        long device = (fromHost ? dst : src).data().address() + (fromHost ? dstOffset : srcOffset);
        try (Arena staging = Arena.ofConfined()) {
            // Heap segments have no native address for the driver: go through native memory.
            MemorySegment nativeHost = host.isNative() ? host : staging.allocate(bytes, 64);
            if (fromHost) {
                if (!host.isNative()) {
                    nativeHost.copyFrom(host);
                }
                Driver.check(JCudaDriver.cuMemcpyHtoDAsync(Handles.device(device), Handles.host(nativeHost.address()),
                        bytes, stream), "cuMemcpyHtoDAsync");
            } else {
                Driver.check(JCudaDriver.cuMemcpyDtoHAsync(Handles.host(nativeHost.address()), Handles.device(device),
                        bytes, stream), "cuMemcpyDtoHAsync");
            }
            // The host side may be freed or read as soon as this returns: wait for the copy (and, for a read,
            // for every op queued before it).
            Driver.check(JCudaDriver.cuStreamSynchronize(stream), "cuStreamSynchronize after a host copy"
                    + " (a queued kernel or copy failed)");
            if (!toHost || host.isNative()) {
                return;
            }
            host.copyFrom(nativeHost);
        }
    }

    // --- checks (as the CPU backend's Checks, for device tensors) ---

    private static IllegalArgumentException fail(String op, String message) {
        return new IllegalArgumentException(op + ": " + message);
    }

    private static void notNull(String op, String name, Tensor t) {
        if (t == null) {
            throw fail(op, name + " is null");
        }
    }

    private static void onDevice(String op, String name, Tensor t) {
        notNull(op, name, t);
        if (t.device() != Device.CUDA) {
            throw fail(op, name + " is not a CUDA tensor: " + t + " (copy it to the device first)");
        }
    }

    /** A device F32 tensor: activations, and here also every vector parameter. */
    private static void f32(String op, String name, Tensor t) {
        onDevice(op, name, t);
        if (t.dtype() != DType.F32) {
            throw fail(op, name + " must be F32, got " + t);
        }
    }

    /** A device weight of F32, BF16 or F16. */
    private static void computeFloat(String op, String name, Tensor t) {
        onDevice(op, name, t);
        if (!t.dtype().isComputeFloat()) {
            throw fail(op, name + " must be F32, BF16 or F16, got " + t);
        }
    }

    /** A device F32 tensor of exactly n elements (the CUDA kernels read vectors as float). */
    private static void vectorOf(String op, String name, Tensor t, long n) {
        f32(op, name, t);
        if (t.numel() != n) {
            throw fail(op, name + " " + t + " must have " + n + " elements");
        }
    }

    private static int cols(String op, String name, Tensor t) {
        if (t.rank() < 1) {
            throw fail(op, name + " must have rank >= 1, got " + t);
        }
        return toInt(op, name + " last dimension", t.dim(-1));
    }

    private static long rows(Tensor t) {
        long[] shape = t.shape();
        return Tensor.numel(Arrays.copyOf(shape, Math.max(0, shape.length - 1)));
    }

    private static int toInt(String op, String what, long v) {
        if (v > Integer.MAX_VALUE - 64) {
            throw fail(op, what + " " + v + " is too large");
        }
        return (int) v;
    }

    private static void sameShape(String op, String a, Tensor x, String b, Tensor y) {
        if (!Arrays.equals(x.shape(), y.shape())) {
            throw fail(op, a + " " + x + " and " + b + " " + y + " must have the same shape");
        }
    }

    /** x and out F32 of one shape; returns the columns. */
    private static int sameShapeRows(String op, Tensor x, Tensor out) {
        f32(op, "x", x);
        f32(op, "out", out);
        sameShape(op, "x", x, "out", out);
        return cols(op, "x", x);
    }

    /** A per-frame table [frames, cols] (F32) covering every row's frame r / rowsPerFrame. */
    private static void perFrame(String op, String name, Tensor t, int cols, long rows, int rowsPerFrame) {
        f32(op, name, t);
        if (rowsPerFrame <= 0) {
            throw fail(op, "rowsPerFrame must be positive, got " + rowsPerFrame);
        }
        if (t.dim(-1) != cols) {
            throw fail(op, name + " " + t + " must have " + cols + " columns");
        }
        long frames = rows(t);
        long needed = rows == 0 ? 0 : (rows - 1) / rowsPerFrame + 1;
        if (frames < needed) {
            throw fail(op, name + " " + t + " has " + frames + " frames but " + rows + " rows at "
                    + rowsPerFrame + " rows per frame need " + needed);
        }
    }

    private void binary(String op, Kernel kernel, Tensor x, Tensor y) {
        f32(op, "x", x);
        f32(op, "y", y);
        if (x.numel() != y.numel()) {
            throw fail(op, "x " + x + " and y " + y + " differ in element count");
        }
        long n = x.numel();
        if (n == 0) {
            return;
        }
        bind();
        launch(kernel, Launch.elementwise(n), args().pointer(x).pointer(y).i64(n));
    }

    private void unary(String op, Kernel kernel, Tensor x) {
        f32(op, "x", x);
        long n = x.numel();
        if (n == 0) {
            return;
        }
        bind();
        launch(kernel, Launch.elementwise(n), args().pointer(x).i64(n));
    }

    /** Three F32 device tensors of one element count (the schedule ops' inputs and output). */
    private static long sameCount(String op, Tensor a, Tensor b, Tensor out) {
        f32(op, "first input", a);
        f32(op, "second input", b);
        f32(op, "out", out);
        if (a.numel() != b.numel() || a.numel() != out.numel()) {
            throw fail(op, "inputs " + a + ", " + b + " and out " + out + " differ in element count");
        }
        return a.numel();
    }

    /** [C, F, H, W] F32 with positive patch sizes dividing F, H, W; returns {C, F, H, W}. */
    private static int[] grid(String op, String name, Tensor t, int pt, int ph, int pw) {
        f32(op, name, t);
        if (t.rank() != 4) {
            throw fail(op, name + " must be [C, F, H, W], got " + t);
        }
        if (pt <= 0 || ph <= 0 || pw <= 0) {
            throw fail(op, "patch sizes must be positive, got " + pt + "x" + ph + "x" + pw);
        }
        int c = toInt(op, "C", t.dim(0));
        int f = toInt(op, "F", t.dim(1));
        int h = toInt(op, "H", t.dim(2));
        int w = toInt(op, "W", t.dim(3));
        if (f % pt != 0 || h % ph != 0 || w % pw != 0) {
            throw fail(op, name + " " + t + " is not divisible by patch " + pt + "x" + ph + "x" + pw);
        }
        return new int[] {c, f, h, w};
    }
}
