// Attention kernels of the CUDA backend: Backend.attention (flash style, tensor cores) and
// Backend.biasedAttention (T5, plain fp32). q, k, v and out are F32 row-major [n, heads * headDim]; head h
// owns columns [h * headDim, (h + 1) * headDim) of every row.
//
// ---------------------------------------------------------------------------------------------------------
// Launch contract: attention_f32
//   grid    (ceil(nq / 64), heads, ceil(headDim / 128))      -- z is 1 for every headDim <= 128
//   block   (128, 1, 1)                                       -- 4 warps, 16 query rows each
//   dynamic shared memory: 256 * (P + 8) bytes, P = min(128, round_up(headDim, 16))
//           (headDim 16: 6144, 32: 10240, 64: 18432, 128 and above: 34816). Always under 48 KiB, so no
//           CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES is needed; passing 34816 for every headDim is fine.
//   preconditions (the launcher checks them): nq >= 1 (no launch for nq = 0), nk >= 1, headDim >= 1,
//   queryOffset >= 0, chunkTokens >= 0, nq <= 2^31 - 64, heads <= 65535. The kernel traps (a launch error
//   the launcher must treat as a bug) on a block that is not 128 x 1, gridDim.z != ceil(headDim / 128) or
//   too little dynamic shared memory.
//   For headDim <= 128, out may be q itself (each block reads its rows of q before it writes the same rows
//   of out, and no other block reads them); for wider heads it may not (the z slices of a row run in
//   different blocks, and each reads the whole row of q). out must never overlap k or v.
//
// Launch contract: biased_attention_f32
//   grid    (nq, heads, 1)              -- one block per (query row, head)
//   block   (128, 1, 1)                 -- any multiple of 32 up to 1024 works; 128 is what it is tuned for
//   dynamic shared memory: 4 * (headDim + nk) bytes (q row and the row's logits); under 48 KiB with the
//           256 static bytes while headDim + nk <= 12224 (T5: nk <= 512); beyond that the launcher raises the attribute.
//   preconditions: nq >= 1, nk >= 1, headDim >= 1, heads <= 65535; out must not overlap k, v or bias. The
//   kernel traps on a block size that is not a multiple of 32 or too little dynamic shared memory.
// ---------------------------------------------------------------------------------------------------------
//
// attention_f32 semantics (Backend.attention with the caller's scale): per head,
//   out_i = softmax_j(scale * q_i . k_j) v  over the keys j < visible(queryOffset + i), where
//   visible(pos) = nk if chunkTokens == 0, else min(nk, (floor(pos / chunkTokens) + 1) * chunkTokens).
// Every row sees at least key 0: visible(pos) >= min(nk, chunkTokens) >= 1 when nk >= 1, so no row is fully
// masked (the kernel still guards the -inf - -inf case, and would write zeros for such a row).
//
// How: one block per (64-query tile, head, 128-column output slice). Each warp holds its 16 query rows of Q
// as mma A fragments in registers (bf16) and its output rows as fp32 accumulators. The block streams key
// tiles of 64: K and V are read from global memory as F32, rounded to bf16 (round to nearest even) and
// stored to shared memory, S = Q Kᵀ and O += P V run on mma.sync m16n8k16 bf16 with fp32 accumulation, and
// the softmax is online in fp32 in the log2 domain (running max m, running sum l; when m grows the earlier
// O and l are scaled by 2^(m_old - m_new)). l sums the bf16-rounded P that the mma actually multiplies, so
// the weights of every output row sum to one. Key tiles past the block's last visible key are never
// loaded; a warp skips tiles past its own last visible key; keys inside a tile are masked per element.
//
// Head dims: one entry point, a switch on P = round_up(headDim, 16) into a template instantiated for
// P = 16, 32, ..., 128 (the ABI has one name, and a template parameter gives every loop a compile-time
// trip count, so all fragment arrays stay in registers). Columns past headDim are zero-filled, so any
// headDim from 1 to 128 works (the small test configs use 2 to 64, Wan 1.3B 128). headDim above 128 (the
// Wan VAE's single-head attention has 384 channels) takes the "wide" instantiation: the output is split
// into 128-column slices (grid z), and each block computes S over the whole head dim in 128-column
// chunks, re-reading its Q fragments from global memory per chunk (Q·Kᵀ is thus recomputed once per
// slice, a cost only the VAE pays).
//
// mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 fragment layouts relied on (PTX ISA, "Matrix
// Fragments for mma.m16n8k16 with floating point type"); g = laneid >> 2, t = laneid % 4; each .b32
// register holds two bf16, the lower-numbered element in the low 16 bits:
//   A (16x16, row major), 4 regs: a[0] = (row g,   cols 2t, 2t+1)   a[1] = (row g+8, cols 2t, 2t+1)
//                                 a[2] = (row g,   cols 2t+8, 2t+9) a[3] = (row g+8, cols 2t+8, 2t+9)
//   B (16x8, "col": element (k, n)), 2 regs: b[0] = (k 2t, 2t+1; n g)  b[1] = (k 2t+8, 2t+9; n g)
//   C/D (16x8 f32), 4 floats: c[0], c[1] = (row g, cols 2t, 2t+1); c[2], c[3] = (row g+8, cols 2t, 2t+1)
// The C layout of S for keys [16c, 16c+16) (two n-tiles) is exactly the A layout of P for k-chunk c, so P
// goes from accumulators to A fragments without leaving registers.
//
// Shared memory layouts (32-bit words, each two bf16):
//   ks[key][SK]: word w of row key = K[key][2w] (low), K[key][2w+1] (high); SK = P/2 + 4. A B fragment of
//                S = Q Kᵀ (k = head dim, n = key) is then one word: b[0] = ks[n][kc*8 + t], b[1] = ks[n][kc*8 + 4 + t].
//                SK = 4 mod 8 makes the 32 lanes' words g*SK + t fall in 32 distinct banks.
//   vs[pair][SV]: word d of key pair m = V[2m][d] (low), V[2m+1][d] (high); SV = P + 8. A B fragment of
//                O = P V (k = key, n = head dim) is one word: b[0] = vs[kc*8 + t][n], b[1] = vs[kc*8 + 4 + t][n];
//                SV = 8 mod 16 makes t*SV + g distinct banks. Loading writes 4 consecutive words (16 bytes).

#include <cuda_bf16.h>
#include <stdint.h>

namespace {

constexpr int BLOCK_M = 64;   // query rows per block (4 warps x 16)
constexpr int BLOCK_N = 64;   // keys per tile
constexpr int THREADS = 128;
constexpr int SLICE = 128;    // widest head-dim slice held in registers / shared memory
constexpr float LOG2E = 1.4426950408889634f;

// Keys visible to the query at absolute position pos (Backend.attention's chunk-causal rule). Past nk's own
// chunk the limit is nk anyway; testing that first keeps (chunk + 1) * chunkTokens from overflowing.
__device__ __forceinline__ long long visible_keys(long long pos, long long nk, long long chunkTokens) {
    if (chunkTokens == 0) {
        return nk;
    }
    long long chunk = pos / chunkTokens;
    return chunk >= nk / chunkTokens ? nk : min(nk, (chunk + 1) * chunkTokens);
}

// Two floats rounded to bf16 (nearest even), lo in the low half: the element order mma expects.
__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
    uint32_t l = __bfloat16_as_ushort(__float2bfloat16_rn(lo));
    uint32_t h = __bfloat16_as_ushort(__float2bfloat16_rn(hi));
    return l | (h << 16);
}

__device__ __forceinline__ float bf16_low(uint32_t w) { return __uint_as_float(w << 16); }
__device__ __forceinline__ float bf16_high(uint32_t w) { return __uint_as_float(w & 0xffff0000u); }

// d += a * b on the tensor cores, fragments as in the header comment.
__device__ __forceinline__ void mma_bf16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
        "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Columns col..col+3 of a row (row points at the head's first column), zero at and past limit. vec: the
// row and col are 16-byte aligned and limit is a multiple of 4, so a group is all in or all out.
__device__ __forceinline__ float4 load4(const float* __restrict__ row, int col, int limit, bool vec) {
    if (vec) {
        return col < limit ? __ldg(reinterpret_cast<const float4*>(row + col)) : make_float4(0.f, 0.f, 0.f, 0.f);
    }
    float4 r;
    r.x = col < limit ? __ldg(row + col) : 0.f;
    r.y = col + 1 < limit ? __ldg(row + col + 1) : 0.f;
    r.z = col + 2 < limit ? __ldg(row + col + 2) : 0.f;
    r.w = col + 3 < limit ? __ldg(row + col + 3) : 0.f;
    return r;
}

// One (64-query tile, head, output slice) of attention_f32. P: head-dim columns per slice, a multiple of
// 16 up to 128. WIDE: headDim > 128, so S sums over several 128-column chunks and the output is the slice
// blockIdx.z; otherwise one chunk holds the whole (zero-padded) head and Q stays in registers.
template <int P, bool WIDE>
__device__ __forceinline__ void attention_tile(const float* q, const float* __restrict__ k,
                                               const float* __restrict__ v, float* out, int nq, int nk,
                                               int heads, int headDim, long long queryOffset,
                                               long long chunkTokens, float scale, uint32_t* smem) {
    constexpr int KC = P / 16;            // k-chunks of the head dim in S = Q Kᵀ
    constexpr int NT = P / 8;             // n-tiles of the head dim in O = P V
    constexpr int SN = BLOCK_N / 8;       // n-tiles of keys in S
    constexpr int PC = BLOCK_N / 16;      // k-chunks of keys in O = P V
    constexpr int SK = P / 2 + 4;         // words per K row
    constexpr int SV = P + 8;             // words per V key pair
    constexpr int GROUPS = P / 4;         // float4 groups per row of a slice
    static_assert(P % 16 == 0 && P <= SLICE, "slice width");
    static_assert((BLOCK_N * GROUPS) % THREADS == 0 && (BLOCK_N / 2 * GROUPS) % THREADS == 0, "load split");
    uint32_t* ks = smem;                  // [BLOCK_N][SK]
    uint32_t* vs = smem + BLOCK_N * SK;   // [BLOCK_N / 2][SV], offset a multiple of 4 words: 16-byte aligned

    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
    const int i0 = blockIdx.x * BLOCK_M;
    const long long dim = (long long) heads * headDim;
    const long long headCol = (long long) blockIdx.y * headDim;
    const int chunks = WIDE ? (headDim + SLICE - 1) / SLICE : 1;
    const int outCol = WIDE ? blockIdx.z * SLICE : 0;
    const int r0 = i0 + warp * 16 + g, r1 = r0 + 8;   // this thread's rows: c[0], c[1] and c[2], c[3]

    // Key limits: per row (int: they never exceed nk), the block's (last row sees the most) and the warp's.
    const int lim0 = (int) visible_keys(queryOffset + r0, nk, chunkTokens);
    const int lim1 = (int) visible_keys(queryOffset + r1, nk, chunkTokens);
    const int keyEnd = (int) visible_keys(queryOffset + min(nq - 1, i0 + BLOCK_M - 1), nk, chunkTokens);
    const int warpRow = i0 + warp * 16;
    const int warpEnd = warpRow < nq ? (int) visible_keys(queryOffset + min(nq - 1, warpRow + 15), nk, chunkTokens) : 0;

    const bool vec = headDim % 4 == 0
            && ((reinterpret_cast<uintptr_t>(k) | reinterpret_cast<uintptr_t>(v)) & 15) == 0;

    // Q fragments of head-dim columns [col0, col0 + P), zero past nq and headDim. Plain loads, not __ldg:
    // out may be q (headDim <= 128), so q is not read-only for the kernel's lifetime.
    uint32_t qf[KC][4];
    auto loadQ = [&](int col0) {
        const float* row0 = q + (long long) r0 * dim + headCol;
        const float* row1 = q + (long long) r1 * dim + headCol;
        auto at = [&](const float* row, int r, int c) { return r < nq && c < headDim ? row[c] : 0.f; };
#pragma unroll
        for (int kc = 0; kc < KC; ++kc) {
            int c = col0 + kc * 16 + 2 * t;
            qf[kc][0] = pack_bf16(at(row0, r0, c), at(row0, r0, c + 1));
            qf[kc][1] = pack_bf16(at(row1, r1, c), at(row1, r1, c + 1));
            qf[kc][2] = pack_bf16(at(row0, r0, c + 8), at(row0, r0, c + 9));
            qf[kc][3] = pack_bf16(at(row1, r1, c + 8), at(row1, r1, c + 9));
        }
    };
    if (!WIDE) {
        loadQ(0);
    }

    float o[NT][4];
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) {
        o[nt][0] = o[nt][1] = o[nt][2] = o[nt][3] = 0.f;
    }
    float m0 = -INFINITY, m1 = -INFINITY;   // running max of rows r0, r1 (log2 domain, whole row)
    float l0 = 0.f, l1 = 0.f;               // running sums of this thread's columns (rescaled with m)
    const float c2 = scale * LOG2E;

    for (int j0 = 0; j0 < keyEnd; j0 += BLOCK_N) {
        float s[SN][4];
#pragma unroll
        for (int nt = 0; nt < SN; ++nt) {
            s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.f;
        }
        for (int dc = 0; dc < chunks; ++dc) {
            __syncthreads();   // every warp is done with the previous K chunk / V tile
            // K rows j0.. of head-dim chunk dc; rows at and past keyEnd are zero (masked for every row).
#pragma unroll 4
            for (int it = 0; it < BLOCK_N * GROUPS / THREADS; ++it) {
                int u = tid + it * THREADS;
                int row = u / GROUPS, col = (u % GROUPS) * 4;
                int key = j0 + row;
                float4 x = key < keyEnd
                        ? load4(k + (long long) key * dim + headCol, dc * SLICE + col, headDim, vec)
                        : make_float4(0.f, 0.f, 0.f, 0.f);
                *reinterpret_cast<uint2*>(ks + row * SK + col / 2) = make_uint2(pack_bf16(x.x, x.y), pack_bf16(x.z, x.w));
            }
            if (dc == 0) {
                // V key pairs of the output slice, zero past keyEnd: P is 0 there, and 0 * garbage may be NaN.
#pragma unroll 2
                for (int it = 0; it < BLOCK_N / 2 * GROUPS / THREADS; ++it) {
                    int u = tid + it * THREADS;
                    int pair = u / GROUPS, col = (u % GROUPS) * 4;
                    int key = j0 + 2 * pair;
                    float4 a = key < keyEnd
                            ? load4(v + (long long) key * dim + headCol, outCol + col, headDim, vec)
                            : make_float4(0.f, 0.f, 0.f, 0.f);
                    float4 b = key + 1 < keyEnd
                            ? load4(v + (long long) (key + 1) * dim + headCol, outCol + col, headDim, vec)
                            : make_float4(0.f, 0.f, 0.f, 0.f);
                    *reinterpret_cast<uint4*>(vs + pair * SV + col) = make_uint4(
                            pack_bf16(a.x, b.x), pack_bf16(a.y, b.y), pack_bf16(a.z, b.z), pack_bf16(a.w, b.w));
                }
            }
            __syncthreads();
            if (j0 < warpEnd) {   // warp-uniform: mma.sync needs the whole warp
                if (WIDE) {
                    loadQ(dc * SLICE);
                }
#pragma unroll
                for (int nt = 0; nt < SN; ++nt) {
                    const uint32_t* kr = ks + (nt * 8 + g) * SK + t;
#pragma unroll
                    for (int kc = 0; kc < KC; ++kc) {
                        mma_bf16(s[nt], qf[kc], kr[kc * 8], kr[kc * 8 + 4]);
                    }
                }
            }
        }
        if (j0 >= warpEnd) {
            continue;   // every key of this tile is masked for all of the warp's rows
        }

        // Logits in the log2 domain, masked per element: key j is visible to row r iff j < lim(r).
        float mx0 = -INFINITY, mx1 = -INFINITY;
#pragma unroll
        for (int nt = 0; nt < SN; ++nt) {
            int key = j0 + nt * 8 + 2 * t;
            s[nt][0] = key < lim0 ? s[nt][0] * c2 : -INFINITY;
            s[nt][1] = key + 1 < lim0 ? s[nt][1] * c2 : -INFINITY;
            s[nt][2] = key < lim1 ? s[nt][2] * c2 : -INFINITY;
            s[nt][3] = key + 1 < lim1 ? s[nt][3] * c2 : -INFINITY;
            mx0 = fmaxf(mx0, fmaxf(s[nt][0], s[nt][1]));
            mx1 = fmaxf(mx1, fmaxf(s[nt][2], s[nt][3]));
        }
        // A row's 64 logits are spread over the 4 lanes of its quad (same g).
        mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
        mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
        mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
        mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
        const float mn0 = fmaxf(m0, mx0), mn1 = fmaxf(m1, mx1);
        // A row with no visible key so far keeps max -inf; subtracting 0 instead keeps its p at 0, not NaN.
        const float base0 = mn0 == -INFINITY ? 0.f : mn0, base1 = mn1 == -INFINITY ? 0.f : mn1;
        const float corr0 = exp2f(m0 - base0), corr1 = exp2f(m1 - base1);   // 0 on the first visible tile
        m0 = mn0;
        m1 = mn1;

        // P = 2^(s - m) rounded to bf16, straight into A fragments; l sums the rounded values.
        uint32_t pa[PC][4];
        float ls0 = 0.f, ls1 = 0.f;
#pragma unroll
        for (int kc = 0; kc < PC; ++kc) {
#pragma unroll
            for (int half = 0; half < 2; ++half) {
                const float* sn = s[2 * kc + half];
                uint32_t top = pack_bf16(exp2f(sn[0] - base0), exp2f(sn[1] - base0));      // row g
                uint32_t bottom = pack_bf16(exp2f(sn[2] - base1), exp2f(sn[3] - base1));   // row g+8
                pa[kc][2 * half] = top;          // a[0] (keys 2t..) or a[2] (keys 2t+8..)
                pa[kc][2 * half + 1] = bottom;   // a[1] or a[3]
                ls0 += bf16_low(top) + bf16_high(top);
                ls1 += bf16_low(bottom) + bf16_high(bottom);
            }
        }
        l0 = l0 * corr0 + ls0;
        l1 = l1 * corr1 + ls1;
#pragma unroll
        for (int nt = 0; nt < NT; ++nt) {
            o[nt][0] *= corr0;
            o[nt][1] *= corr0;
            o[nt][2] *= corr1;
            o[nt][3] *= corr1;
        }
#pragma unroll
        for (int kc = 0; kc < PC; ++kc) {
            const uint32_t* v0 = vs + (kc * 8 + t) * SV + g;
            const uint32_t* v1 = vs + (kc * 8 + 4 + t) * SV + g;
#pragma unroll
            for (int nt = 0; nt < NT; ++nt) {
                mma_bf16(o[nt], pa[kc], v0[nt * 8], v1[nt * 8]);
            }
        }
    }

    // Whole-row sums from the quad, then out = O / l for the slice's columns inside headDim.
    l0 += __shfl_xor_sync(0xffffffffu, l0, 1);
    l0 += __shfl_xor_sync(0xffffffffu, l0, 2);
    l1 += __shfl_xor_sync(0xffffffffu, l1, 1);
    l1 += __shfl_xor_sync(0xffffffffu, l1, 2);
    const float inv0 = l0 > 0.f ? 1.f / l0 : 0.f, inv1 = l1 > 0.f ? 1.f / l1 : 0.f;
    float* out0 = out + (long long) r0 * dim + headCol;
    float* out1 = out + (long long) r1 * dim + headCol;
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) {
        int col = outCol + nt * 8 + 2 * t;
        if (r0 < nq) {
            if (col < headDim) out0[col] = o[nt][0] * inv0;
            if (col + 1 < headDim) out0[col + 1] = o[nt][1] * inv0;
        }
        if (r1 < nq) {
            if (col < headDim) out1[col] = o[nt][2] * inv1;
            if (col + 1 < headDim) out1[col + 1] = o[nt][3] * inv1;
        }
    }
}

__device__ __forceinline__ unsigned dynamic_smem_bytes() {
    unsigned bytes;
    asm volatile("mov.u32 %0, %%dynamic_smem_size;" : "=r"(bytes));
    return bytes;
}

// Block-wide reductions for biased_attention_f32; scratch holds 32 entries. Every thread gets the result.
__device__ __forceinline__ float block_max(float x, float* scratch) {
    for (int o = 16; o > 0; o >>= 1) {
        x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, o));
    }
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, warps = blockDim.x >> 5;
    if (lane == 0) scratch[warp] = x;
    __syncthreads();
    x = lane < warps ? scratch[lane] : -INFINITY;
    for (int o = 16; o > 0; o >>= 1) {
        x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, o));
    }
    __syncthreads();   // scratch may be reused right after
    return x;
}

__device__ __forceinline__ double block_sum(double x, double* scratch) {
    for (int o = 16; o > 0; o >>= 1) {
        x += __shfl_xor_sync(0xffffffffu, x, o);
    }
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, warps = blockDim.x >> 5;
    if (lane == 0) scratch[warp] = x;
    __syncthreads();
    x = lane < warps ? scratch[lane] : 0.0;
    for (int o = 16; o > 0; o >>= 1) {
        x += __shfl_xor_sync(0xffffffffu, x, o);
    }
    __syncthreads();
    return x;
}

}  // namespace

// Backend.attention with the caller's scale (see the launch contract at the top of this file).
extern "C" __global__ void __launch_bounds__(THREADS)
attention_f32(const float* q, const float* k, const float* v, float* out, int nq, int nk, int heads, int headDim,
              long long queryOffset, long long chunkTokens, float scale) {
    extern __shared__ __align__(16) uint32_t attention_smem[];
    const int p = headDim > SLICE ? SLICE : (headDim + 15) / 16 * 16;
    if (headDim < 1 || blockDim.x != THREADS || blockDim.y != 1 || blockDim.z != 1 || gridDim.z != (unsigned) ((headDim + SLICE - 1) / SLICE)
            || dynamic_smem_bytes() < 256u * (unsigned) (p + 8)) {
        __trap();   // launch contract broken: fail loudly rather than leave columns unwritten
    }
    if (headDim > SLICE) {
        attention_tile<SLICE, true>(q, k, v, out, nq, nk, heads, headDim, queryOffset, chunkTokens, scale, attention_smem);
        return;
    }
    switch (p) {
        case 16: attention_tile<16, false>(q, k, v, out, nq, nk, heads, headDim, queryOffset, chunkTokens, scale, attention_smem); break;
        case 32: attention_tile<32, false>(q, k, v, out, nq, nk, heads, headDim, queryOffset, chunkTokens, scale, attention_smem); break;
        case 48: attention_tile<48, false>(q, k, v, out, nq, nk, heads, headDim, queryOffset, chunkTokens, scale, attention_smem); break;
        case 64: attention_tile<64, false>(q, k, v, out, nq, nk, heads, headDim, queryOffset, chunkTokens, scale, attention_smem); break;
        case 80: attention_tile<80, false>(q, k, v, out, nq, nk, heads, headDim, queryOffset, chunkTokens, scale, attention_smem); break;
        case 96: attention_tile<96, false>(q, k, v, out, nq, nk, heads, headDim, queryOffset, chunkTokens, scale, attention_smem); break;
        case 112: attention_tile<112, false>(q, k, v, out, nq, nk, heads, headDim, queryOffset, chunkTokens, scale, attention_smem); break;
        default: attention_tile<128, false>(q, k, v, out, nq, nk, heads, headDim, queryOffset, chunkTokens, scale, attention_smem); break;
    }
}

// Backend.biasedAttention: out_i = softmax_j(scale * q_i . k_j + bias[h][i][j]) v, one block per (i, h), all
// in fp32 except the softmax denominator (double), as the CPU reference does. A row whose logits are all
// -inf gets zeros (the CPU reference does the same); T5 never produces one.
extern "C" __global__ void __launch_bounds__(1024)
biased_attention_f32(const float* q, const float* __restrict__ k, const float* __restrict__ v,
                     const float* __restrict__ bias, float* out, int nq, int nk, int heads, int headDim,
                     float scale) {
    extern __shared__ float biased_smem[];
    __shared__ double scratch[32];
    float* qs = biased_smem;              // [headDim]
    float* logits = biased_smem + headDim;   // [nk], later the probabilities
    if (headDim < 1 || (blockDim.x & 31) != 0 || blockDim.y != 1 || blockDim.z != 1 || dynamic_smem_bytes() < 4u * (unsigned) (headDim + nk)) {
        __trap();   // launch contract broken
    }
    const int i = blockIdx.x, h = blockIdx.y;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    const long long dim = (long long) heads * headDim;
    const long long headCol = (long long) h * headDim;

    for (int c = threadIdx.x; c < headDim; c += blockDim.x) {
        qs[c] = q[(long long) i * dim + headCol + c];
    }
    __syncthreads();

    // One warp per key: lanes stride the head dim (coalesced), then a butterfly sum.
    const float* brow = bias + ((long long) h * nq + i) * nk;
    for (int j = warp; j < nk; j += warps) {
        const float* kr = k + (long long) j * dim + headCol;
        float dot = 0.f;
        for (int c = lane; c < headDim; c += 32) {
            dot = fmaf(qs[c], kr[c], dot);
        }
        for (int o = 16; o > 0; o >>= 1) {
            dot += __shfl_xor_sync(0xffffffffu, dot, o);
        }
        if (lane == 0) {
            logits[j] = scale * dot + brow[j];
        }
    }
    __syncthreads();

    float mx = -INFINITY;
    for (int j = threadIdx.x; j < nk; j += blockDim.x) {
        mx = fmaxf(mx, logits[j]);
    }
    mx = block_max(mx, reinterpret_cast<float*>(scratch));
    double sum = 0.0;
    for (int j = threadIdx.x; j < nk; j += blockDim.x) {
        float p = mx == -INFINITY ? 0.f : expf(logits[j] - mx);
        logits[j] = p;
        sum += p;
    }
    sum = block_sum(sum, scratch);   // its barrier also publishes every p
    const float inv = sum > 0.0 ? (float) (1.0 / sum) : 0.f;

    // Threads stride the head dim: for each key, consecutive threads read consecutive columns of v.
    for (int c = threadIdx.x; c < headDim; c += blockDim.x) {
        const float* vc = v + headCol + c;
        float acc = 0.f;
        for (int j = 0; j < nk; ++j) {
            acc = fmaf(logits[j], vc[(long long) j * dim], acc);
        }
        out[(long long) i * dim + headCol + c] = acc * inv;
    }
}
