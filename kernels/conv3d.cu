// conv3d: Backend.conv3d as an implicit GEMM over channels-last activations.
//
//   x    [Tin, H, W, Cin]             F32
//   w    [Cout, kt, kh, kw, Cin]      F32, BF16 or F16 (one kernel per dtype), widened to F32 on load
//   bias [Cout] F32 or null
//   out  [Tout, H, W, Cout]           F32, Tout = Tin - kt + 1
// Valid in time, zero padding kh/2 and kw/2 in space (kh, kw odd), stride 1.
//
// As a GEMM: out[m, n] = sum_k A[m, k] * B[k, n] + bias[n] with
//   m = output pixel ((to * H + y) * W + xo), M = Tout*H*W  (so out is [M, Cout] row-major),
//   n = output channel, N = Cout,
//   k = ((dt * kh + dy) * kw + dx) * Cin + ci, K = kt*kh*kw*Cin (the weight's own row layout: B[k, n] = w[n*K + k]),
//   A[m, k] = x[to + dt, y + dy - kh/2, xo + dx - kw/2, ci], zero outside the frame ("gathered" on the fly).
// Each block computes a 64 x 64 tile of out, stepping through K 16 at a time: the gathered A slice and the
// B slice go to shared memory, then each thread accumulates a 4 x 4 micro-tile in fp32 registers.
//
// Launch contract (all three kernels):
//   grid  = (ceil(M / 64), ceil(Cout / 64), 1)
//   block = (256, 1, 1)
//   dynamic shared memory = 0 (static: 2 * 16 * 68 floats = 8.5 KiB)
// Any M, Cout, Cin, kt, kh, kw: partial tiles are masked. x, out element offsets are 64-bit.

#include <cuda_fp16.h>

namespace {

constexpr int BM = 64;       // output pixels per block
constexpr int BN = 64;       // output channels per block
constexpr int BK = 16;       // K per shared-memory step
constexpr int THREADS = 256; // 16 x 16 threads, each a 4 x 4 micro-tile
constexpr int PAD = 4;       // row padding: keeps float4 alignment, spreads the transposed stores over banks

__device__ __forceinline__ float widen(float v) { return v; }

struct Bf16 { unsigned short bits; };
struct F16 { unsigned short bits; };

__device__ __forceinline__ float widen(Bf16 v) { return __uint_as_float(((unsigned int) v.bits) << 16); }
__device__ __forceinline__ float widen(F16 v) { return __half2float(__ushort_as_half(v.bits)); }

template <typename W>
__device__ __forceinline__ void conv3d_body(const float* __restrict__ x, const W* __restrict__ w,
                                            const float* __restrict__ bias, float* __restrict__ out,
                                            int tin, int height, int width, int cin, int cout,
                                            int kt, int kh, int kw) {
    __shared__ __align__(16) float As[BK][BM + PAD]; // As[k][m]: gathered input, transposed
    __shared__ __align__(16) float Bs[BK][BN + PAD]; // Bs[k][n]: weight slice

    const int tout = tin - kt + 1;
    const long long M = (long long) tout * height * width;
    const int K = kt * kh * kw * cin;
    const long long m0 = (long long) blockIdx.x * BM;
    const int n0 = blockIdx.y * BN;
    const int tid = threadIdx.x;

    // Loading: thread tid fetches k = k0 + (tid % 16) for rows (tid / 16) + 16 i, i = 0..3, of both A (pixels)
    // and B (channels), so 16 consecutive threads read 16 consecutive k (contiguous Cin in x, a weight row in w).
    const int lk = tid % BK;
    const int lr = tid / BK; // 0..15

    // The four pixels this thread gathers, fixed over the K loop: frame, row, column (or -1 past M).
    int pt[4], py[4], px[4];
#pragma unroll
    for (int i = 0; i < 4; i++) {
        long long m = m0 + lr + 16 * i;
        if (m < M) {
            long long rest = m / width;
            px[i] = (int) (m - rest * width);
            py[i] = (int) (rest % height);
            pt[i] = (int) (rest / height);
        } else {
            pt[i] = -1;
            py[i] = 0;
            px[i] = 0;
        }
    }

    // Compute: thread (tx, ty) owns pixels m0 + ty*4 .. +3 and channels n0 + tx*4 .. +3.
    const int tx = tid % 16;
    const int ty = tid / 16;
    float acc[4][4];
#pragma unroll
    for (int i = 0; i < 4; i++) {
#pragma unroll
        for (int j = 0; j < 4; j++) {
            acc[i][j] = 0.f;
        }
    }

    const int padH = kh / 2, padW = kw / 2;
    for (int k0 = 0; k0 < K; k0 += BK) {
        const int k = k0 + lk;
        // Decompose k into (dt, dy, dx, ci) once per step; shared by the four pixels.
        int ci = 0, dx = 0, dy = 0, dt = 0;
        const bool kIn = k < K;
        if (kIn) {
            ci = k % cin;
            int tap = k / cin;
            dx = tap % kw;
            tap /= kw;
            dy = tap % kh;
            dt = tap / kh;
        }
#pragma unroll
        for (int i = 0; i < 4; i++) {
            float v = 0.f;
            if (kIn && pt[i] >= 0) {
                const int yi = py[i] + dy - padH;
                const int xi = px[i] + dx - padW;
                if (yi >= 0 && yi < height && xi >= 0 && xi < width) {
                    const long long off = (((long long) (pt[i] + dt) * height + yi) * width + xi) * cin + ci;
                    v = x[off];
                }
            }
            As[lk][lr + 16 * i] = v;
        }
#pragma unroll
        for (int i = 0; i < 4; i++) {
            const int n = n0 + lr + 16 * i;
            float v = 0.f;
            if (kIn && n < cout) {
                v = widen(w[(long long) n * K + k]);
            }
            Bs[lk][lr + 16 * i] = v;
        }
        __syncthreads();

#pragma unroll
        for (int kk = 0; kk < BK; kk++) {
            const float4 a = *reinterpret_cast<const float4*>(&As[kk][ty * 4]);
            const float4 b = *reinterpret_cast<const float4*>(&Bs[kk][tx * 4]);
            const float av[4] = {a.x, a.y, a.z, a.w};
            const float bv[4] = {b.x, b.y, b.z, b.w};
#pragma unroll
            for (int i = 0; i < 4; i++) {
#pragma unroll
                for (int j = 0; j < 4; j++) {
                    acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
                }
            }
        }
        __syncthreads(); // the next step overwrites As and Bs
    }

#pragma unroll
    for (int i = 0; i < 4; i++) {
        const long long m = m0 + ty * 4 + i;
        if (m >= M) {
            continue;
        }
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const int n = n0 + tx * 4 + j;
            if (n < cout) {
                out[m * cout + n] = acc[i][j] + (bias != nullptr ? bias[n] : 0.f);
            }
        }
    }
}

} // namespace

extern "C" __global__ void __launch_bounds__(THREADS)
conv3d_f32(const float* x, const void* w, const float* bias, float* out,
           int tin, int height, int width, int cin, int cout, int kt, int kh, int kw) {
    conv3d_body(x, static_cast<const float*>(w), bias, out, tin, height, width, cin, cout, kt, kh, kw);
}

extern "C" __global__ void __launch_bounds__(THREADS)
conv3d_bf16(const float* x, const void* w, const float* bias, float* out,
            int tin, int height, int width, int cin, int cout, int kt, int kh, int kw) {
    conv3d_body(x, static_cast<const Bf16*>(w), bias, out, tin, height, width, cin, cout, kt, kh, kw);
}

extern "C" __global__ void __launch_bounds__(THREADS)
conv3d_f16(const float* x, const void* w, const float* bias, float* out,
           int tin, int height, int width, int cin, int cout, int kt, int kh, int kw) {
    conv3d_body(x, static_cast<const F16*>(w), bias, out, tin, height, width, cin, cout, kt, kh, kw);
}
