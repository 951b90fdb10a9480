// Elementwise and row-broadcast ops on F32 activations: the CUDA twins of backend/cpu/Pointwise (add, mul,
// addRow, gatedAdd, modulate, geluTanh, silu), the widening casts that feed cuBLAS, and copyRows.
//
// Launch shape (every kernel here): any 1-D grid and 1-D block (256 threads and up to 65535 blocks is a good
// default), no dynamic shared memory. Each kernel walks its elements with a grid-stride loop over a long long
// index, so the grid only sets how wide it runs, never which elements are covered.
//
// Rounding: the CPU backend is the reference, so the arithmetic follows it operation for operation. nvcc
// would contract a*b + c into one fma where the CPU rounds twice; the __fmul_rn/__fadd_rn intrinsics are never
// contracted, and fmaf is written out where the CPU uses fma. With that, every kernel here gives the CPU's bits.
//
// Aliasing: no pointer is __restrict__. Outputs may alias inputs exactly (each element is read before it is
// written, at the same index, by the same thread), as Backend allows for modulate (out == x) and friends.

#include <cuda_fp16.h>

namespace {

// exp as backend/cpu/VectorMath.exp computes it (Cephes' expf from add, mul and fma only), so that
// gelu/silu give the CPU's bits: CUDA's expf differs from it in the last place.
__device__ __forceinline__ float cephes_exp(float x) {
    const float HI = 88.3762626647949f;
    const float LO = -87.3365447504019f;
    const float LOG2E = 1.44269504088896341f;
    const float MAGIC = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
    const float LN2_HI = 0.693359375f;
    const float LN2_LO = -2.12194440e-4f;
    // Clamp with comparisons, not fminf/fmaxf: those drop a NaN, Java's max/min keep it.
    x = x < LO ? LO : x;
    x = x > HI ? HI : x;
    float t = fmaf(x, LOG2E, MAGIC);
    float n = __fsub_rn(t, MAGIC);
    float r = fmaf(n, -LN2_HI, x);
    r = fmaf(n, -LN2_LO, r);
    float p = fmaf(r, 1.9875691500e-4f, 1.3981999507e-3f);
    p = fmaf(p, r, 8.3334519073e-3f);
    p = fmaf(p, r, 4.1665795894e-2f);
    p = fmaf(p, r, 1.6666665459e-1f);
    p = fmaf(p, r, 5.0000001201e-1f);
    float y = __fadd_rn(fmaf(__fmul_rn(p, r), r, r), 1.0f);
    int bits = (__float_as_int(t) - __float_as_int(MAGIC) + 127) << 23;
    return __fmul_rn(y, __int_as_float(bits));
}

// tanh(x) = 1 - 2 / (exp(2x) + 1), as VectorMath.tanh. '/' is IEEE division (build.sh has no fast math).
__device__ __forceinline__ float cpu_tanh(float x) {
    float e = __fadd_rn(cephes_exp(__fadd_rn(x, x)), 1.0f);
    return __fsub_rn(1.0f, 2.0f / e);
}

__device__ __forceinline__ long long first_index() {
    return (long long)blockIdx.x * blockDim.x + threadIdx.x;
}

__device__ __forceinline__ long long grid_stride() {
    return (long long)blockDim.x * gridDim.x;
}

}  // namespace

// x += y over n elements.
extern "C" __global__ void add_f32(float* x, const float* y, long long n) {
    for (long long i = first_index(); i < n; i += grid_stride()) {
        x[i] = __fadd_rn(x[i], y[i]);
    }
}

// x *= y over n elements.
extern "C" __global__ void mul_f32(float* x, const float* y, long long n) {
    for (long long i = first_index(); i < n; i += grid_stride()) {
        x[i] = __fmul_rn(x[i], y[i]);
    }
}

// x[r, c] += row[c] for x [rows, cols].
extern "C" __global__ void add_row_f32(float* x, const float* row, long long rows, int cols) {
    long long n = rows * cols;
    for (long long i = first_index(); i < n; i += grid_stride()) {
        x[i] = __fadd_rn(x[i], row[i % cols]);
    }
}

// GELU, tanh approximation, in place: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), with the products
// grouped and rounded as Pointwise.geluTanh does: (((x*x)*0.044715 + 1)*x)*sqrt(2/pi), then (0.5*x)*(1 + t).
extern "C" __global__ void gelu_tanh_f32(float* x, long long n) {
    const float SQRT_2_OVER_PI = 0.7978845608028654f;  // (float) Math.sqrt(2 / pi)
    for (long long i = first_index(); i < n; i += grid_stride()) {
        float v = x[i];
        float inner = __fmul_rn(__fadd_rn(__fmul_rn(__fmul_rn(v, v), 0.044715f), 1.0f), v);
        float t = __fadd_rn(cpu_tanh(__fmul_rn(inner, SQRT_2_OVER_PI)), 1.0f);
        x[i] = __fmul_rn(__fmul_rn(v, 0.5f), t);
    }
}

// SiLU in place: x / (exp(-x) + 1).
extern "C" __global__ void silu_f32(float* x, long long n) {
    for (long long i = first_index(); i < n; i += grid_stride()) {
        float v = x[i];
        x[i] = v / __fadd_rn(cephes_exp(-v), 1.0f);
    }
}

// Gated residual per frame: x[r, c] += y[r, c] * gate[r / rowsPerFrame, c], one fma as the CPU does.
extern "C" __global__ void gated_add_f32(float* x, const float* y, const float* gate, long long rows, int cols,
                                         int rowsPerFrame) {
    long long n = rows * cols;
    for (long long i = first_index(); i < n; i += grid_stride()) {
        long long r = i / cols;
        int c = (int)(i - r * cols);
        long long g = (r / rowsPerFrame) * cols + c;
        x[i] = fmaf(y[i], gate[g], x[i]);
    }
}

// adaLN modulation per frame: out[r, c] = x[r, c] * (1 + scale[f, c]) + shift[f, c], f = r / rowsPerFrame,
// as fma(x, 1 + scale, shift) like the CPU. out may equal x.
extern "C" __global__ void modulate_f32(const float* x, const float* shift, const float* scale, float* out,
                                        long long rows, int cols, int rowsPerFrame) {
    long long n = rows * cols;
    for (long long i = first_index(); i < n; i += grid_stride()) {
        long long r = i / cols;
        int c = (int)(i - r * cols);
        long long f = (r / rowsPerFrame) * cols + c;
        out[i] = fmaf(x[i], __fadd_rn(1.0f, scale[f]), shift[f]);
    }
}

// F32 to bfloat16 bits, round to nearest even (tensor.Bf16.fromFloat's bits): a NaN stays a NaN (quieted,
// sign kept) instead of rounding into an infinity; values past the largest bf16 round to infinity.
extern "C" __global__ void to_bf16(const float* x, unsigned short* out, long long n) {
    for (long long i = first_index(); i < n; i += grid_stride()) {
        unsigned int bits = __float_as_uint(x[i]);
        if ((bits & 0x7FFFFFFFu) > 0x7F800000u) {
            out[i] = (unsigned short)((bits >> 16) | 0x40u);
        } else {
            unsigned int rounding = 0x7FFFu + ((bits >> 16) & 1u);
            out[i] = (unsigned short)((bits + rounding) >> 16);
        }
    }
}

// F32 to IEEE half bits, round to nearest even (the hardware conversion cvt.rn.f16.f32: subnormals, overflow
// to infinity, and NaN to NaN handled as IEEE says).
extern "C" __global__ void to_f16(const float* x, unsigned short* out, long long n) {
    for (long long i = first_index(); i < n; i += grid_stride()) {
        out[i] = __half_as_ushort(__float2half_rn(x[i]));
    }
}

// Copies count rows of cols floats from src to dst (both already offset to their first row): a memmove,
// correct for any overlap of src and dst, in particular dst < src within one tensor (the KV-cache shift).
//
// Why it is safe although blocks run in no particular order: let d = src - dst, in floats, and n = count*cols.
// Writing dst[k] overwrites src[k - d]; reading src[k] can only be spoiled by the write of dst[k + d]. Both
// hazards stay within one residue class k mod |d|, so the elements split into |d| independent chains
// {c, c + |d|, c + 2|d|, ...}. Each chain is walked by a single thread, in increasing k when d > 0 (the write
// of dst[k] clobbers src[k - d], which that same thread read earlier) and in decreasing k when d < 0 (the
// mirror case). One thread's load and later store of one address are ordered by program order, and no other
// thread touches that chain's addresses, so no interleaving of threads or blocks can read a clobbered value.
// No pointer is __restrict__, so the compiler must keep each load before the stores that may alias it.
// When |d| >= n the ranges do not overlap (also the case for two different tensors) and every element is its
// own chain: a plain grid-stride copy. Parallelism is min(n, |d|) threads: a shift by one row still gives
// cols threads, and the KV-cache shifts by whole chunks.
extern "C" __global__ void copy_rows_f32(const float* src, float* dst, long long count, int cols) {
    long long n = count * cols;
    // Pointer difference through integers: the two may be different allocations (then |d| is huge).
    long long d = (long long)(reinterpret_cast<unsigned long long>(src) - reinterpret_cast<unsigned long long>(dst))
                  / (long long)sizeof(float);
    if (d == 0 || n <= 0) {
        return;  // src == dst: nothing to move
    }
    long long dist = d > 0 ? d : -d;
    if (dist >= n) {
        for (long long i = first_index(); i < n; i += grid_stride()) {
            dst[i] = src[i];
        }
        return;
    }
    for (long long c = first_index(); c < dist; c += grid_stride()) {
        if (d > 0) {
            for (long long k = c; k < n; k += dist) {
                dst[k] = src[k];
            }
        } else {
            long long last = c + ((n - 1 - c) / dist) * dist;  // the chain's largest index below n
            for (long long k = last; k >= 0; k -= dist) {
                dst[k] = src[k];
            }
        }
    }
}
