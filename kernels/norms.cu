// LayerNorm and RMSNorm over the last axis: the CUDA twins of backend/cpu/Norms, plus the DiT block's fused
// prologue (LayerNorm without affine, then Pointwise.modulate's adaLN modulation).
//
// Launch shape (every kernel here): one block per row; blockDim.x a multiple of 32, at most 1024 (256 is the
// intended size: rows are 1536..5120 wide, so each thread sums 6..20 elements), no dynamic shared memory (the
// reduction uses 32 floats of static shared memory). A grid of fewer blocks than rows is also correct: each
// block strides over rows r = blockIdx.x, blockIdx.x + gridDim.x, ...
//
// Statistics in fp32 as the CPU computes them: LayerNorm is two-pass (mean hi, then sums of d = x - hi and d²,
// giving the mean's residue lo = Σd/n and the population variance Σd²/n - lo²), and 1/sqrt(var + eps) is taken
// in double and rounded to float. The sums are block tree reductions, so they round differently from the CPU's
// vector-lane order: results agree with the CPU to a few ulp of the normalized values, not bit for bit.
//
// out may equal x: every read of a row's statistics finishes (a __syncthreads inside block_sum) before the
// final pass, where each thread reads x[c] and then writes out[c] at the same index.

namespace {

// The sum of v over the block, returned to every thread. scratch holds 32 floats (one per warp).
__device__ float block_sum(float v, float* scratch) {
    for (int offset = 16; offset > 0; offset >>= 1) {
        v += __shfl_xor_sync(0xffffffffu, v, offset);
    }
    int warp = threadIdx.x >> 5;
    int lane = threadIdx.x & 31;
    int warps = blockDim.x >> 5;
    __syncthreads();  // a previous call may still be reading scratch
    if (lane == 0) {
        scratch[warp] = v;
    }
    __syncthreads();
    // Every warp adds up all partials itself, so all threads get the total without another barrier.
    float total = lane < warps ? scratch[lane] : 0.0f;
    for (int offset = 16; offset > 0; offset >>= 1) {
        total += __shfl_xor_sync(0xffffffffu, total, offset);
    }
    return total;
}

// 1 / sqrt(value + eps) in double, rounded to float, as Norms computes rstd.
__device__ __forceinline__ float inverse_std(float value, float eps) {
    return (float)(1.0 / sqrt((double)value + (double)eps));
}

// A row's LayerNorm statistics: out = ((x - hi) - lo) * rstd.
struct RowStats {
    float hi;
    float lo;
    float rstd;
};

__device__ RowStats layer_norm_stats(const float* xr, int cols, float eps, float* scratch) {
    float s = 0.0f;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
        s = __fadd_rn(s, xr[c]);
    }
    float hi = block_sum(s, scratch) / (float)cols;
    float s1 = 0.0f;
    float s2 = 0.0f;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
        float d = __fsub_rn(xr[c], hi);
        s1 = __fadd_rn(s1, d);
        s2 = fmaf(d, d, s2);
    }
    s1 = block_sum(s1, scratch);
    s2 = block_sum(s2, scratch);
    float lo = s1 / (float)cols;
    float var = __fsub_rn(s2 / (float)cols, __fmul_rn(lo, lo));
    var = var < 0.0f ? 0.0f : var;  // Math.max(0f, var): a comparison keeps a NaN, as Java does
    return RowStats{hi, lo, inverse_std(var, eps)};
}

__device__ __forceinline__ float normalized(float x, RowStats s) {
    return __fmul_rn(__fsub_rn(__fsub_rn(x, s.hi), s.lo), s.rstd);
}

}  // namespace

// LayerNorm over rows of x [rows, cols]: (x - mean) / sqrt(var + eps) * weight + bias, population variance;
// weight and bias may each be null (no scale, no shift).
extern "C" __global__ void layer_norm_f32(const float* x, const float* weight, const float* bias, float eps,
                                          float* out, long long rows, int cols) {
    __shared__ float scratch[32];
    for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
        const float* xr = x + r * cols;
        float* orow = out + r * cols;
        RowStats s = layer_norm_stats(xr, cols, eps, scratch);
        for (int c = threadIdx.x; c < cols; c += blockDim.x) {
            float v = normalized(xr[c], s);
            if (weight != nullptr) {
                v = __fmul_rn(v, weight[c]);
            }
            if (bias != nullptr) {
                v = __fadd_rn(v, bias[c]);
            }
            orow[c] = v;
        }
    }
}

// RMSNorm over rows of x [rows, cols]: x / sqrt(mean(x²) + eps) * weight; weight may be null.
extern "C" __global__ void rms_norm_f32(const float* x, const float* weight, float eps, float* out, long long rows,
                                        int cols) {
    __shared__ float scratch[32];
    for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
        const float* xr = x + r * cols;
        float* orow = out + r * cols;
        float s = 0.0f;
        for (int c = threadIdx.x; c < cols; c += blockDim.x) {
            float v = xr[c];
            s = fmaf(v, v, s);
        }
        float rstd = inverse_std(block_sum(s, scratch) / (float)cols, eps);
        for (int c = threadIdx.x; c < cols; c += blockDim.x) {
            float v = __fmul_rn(xr[c], rstd);
            if (weight != nullptr) {
                v = __fmul_rn(v, weight[c]);
            }
            orow[c] = v;
        }
    }
}

// The DiT block's prologue in one pass: LayerNorm without affine, then adaLN modulation per frame,
// out[r, c] = norm(x)[r, c] * (1 + scale[f, c]) + shift[f, c] with f = r / rowsPerFrame (one fma, as
// Pointwise.modulate). shift and scale are [frames, cols]. Same result as layer_norm_f32(x, null, null) followed
// by modulate_f32.
extern "C" __global__ void layer_norm_modulate_f32(const float* x, float eps, const float* shift, const float* scale,
                                                   float* out, long long rows, int cols, int rowsPerFrame) {
    __shared__ float scratch[32];
    for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
        const float* xr = x + r * cols;
        float* orow = out + r * cols;
        const float* sh = shift + (r / rowsPerFrame) * cols;
        const float* sc = scale + (r / rowsPerFrame) * cols;
        RowStats s = layer_norm_stats(xr, cols, eps, scratch);
        for (int c = threadIdx.x; c < cols; c += blockDim.x) {
            orow[c] = fmaf(normalized(xr[c], s), __fadd_rn(1.0f, sc[c]), sh[c]);
        }
    }
}
