// flow_warp_error: Backend.flowWarpError, the fused form of tools/eval/metrics.py flow_warp_error.
//
//   frames [count, H, W, C] F32 in [-1, 1], channels-last; colours are mapped to [0, 1] first: (v + 1) / 2
//   error  [count - 1]      F32, ZEROED BY THE LAUNCHER: blocks add their share with atomicAdd
//
// For pair t (frame t = prev, frame t + 1 = next) and each pixel (y, x) of next, with r = window / 2:
//   d(dy, dx)  = sum_c (prev[clampY(y + dy), clampX(x + dx), c] - next[y, x, c])^2, dy, dx in [-r, r]
//                (replicate padding; the 'unfold' of the reference)
//   p          = softmax over the window of -d / temperature
//   (fy, fx)   = sum p * (dy, dx)                                   (the expected displacement)
//   warped[c]  = prev sampled bilinearly at (y + fy, x + fx), the coordinate clamped to [0, H-1] x [0, W-1]
//                (grid_sample, align_corners=True, padding_mode="border")
//   error[t]  += sum_c |warped[c] - next[y, x, c]| / (C * H * W)
// Each thread does one pixel of next; a block sums its pixels in shared memory and adds the block's sum,
// already divided by C*H*W, to error[t] with one atomicAdd. Frame reads go through the caches: a block's
// window overlaps its neighbours', so each colour is fetched from DRAM about once.
//
// Launch contract:
//   grid  = (ceil(W / 16), ceil(H / 16), count - 1)
//   block = (16, 16, 1)    (the code works for any block of at most 1024 threads)
//   dynamic shared memory = 0 (static: 1024 floats for the block sum)
// window odd and >= 1, temperature > 0, H, W, C >= 1 (the Java side checks). Element offsets are 64-bit.

namespace {

constexpr int MAX_THREADS = 1024;

__device__ __forceinline__ float unit(float v) { return (v + 1.f) * 0.5f; }

// d(dy, dx): the squared colour distance from the target pixel to prev at (y + dy, x + dx), replicate-padded.
__device__ __forceinline__ float window_distance(const float* prev, const float* target, int y, int x, int dy,
                                                 int dx, int height, int width, int channels) {
    const int yy = min(max(y + dy, 0), height - 1);
    const int xx = min(max(x + dx, 0), width - 1);
    const float* p = prev + ((long long) yy * width + xx) * channels;
    float d = 0.f;
    for (int c = 0; c < channels; c++) {
        const float diff = unit(p[c]) - unit(target[c]);
        d = fmaf(diff, diff, d);
    }
    return d;
}

} // namespace

extern "C" __global__ void __launch_bounds__(MAX_THREADS)
flow_warp_error_f32(const float* __restrict__ frames, float* __restrict__ error, int count, int height,
                    int width, int channels, int window, float temperature) {
    __shared__ float partial[MAX_THREADS];

    const int t = blockIdx.z;
    const int x = blockIdx.x * blockDim.x + threadIdx.x;
    const int y = blockIdx.y * blockDim.y + threadIdx.y;
    const int lane = threadIdx.y * blockDim.x + threadIdx.x;
    const int threads = blockDim.x * blockDim.y;

    float sum = 0.f;
    if (t < count - 1 && x < width && y < height) {
        const long long frame = (long long) height * width * channels;
        const float* prev = frames + (long long) t * frame;
        const float* next = prev + frame;
        const float* target = next + ((long long) y * width + x) * channels;
        const int r = window / 2;
        const float invT = 1.f / temperature;

        // Pass 1: the smallest distance, so that the softmax's exponents are <= 0 (no overflow).
        float best = 3.4e38f;
        for (int dy = -r; dy <= r; dy++) {
            for (int dx = -r; dx <= r; dx++) {
                best = fminf(best, window_distance(prev, target, y, x, dy, dx, height, width, channels));
            }
        }
        // Pass 2: softmax weights exp((best - d) / T) and the expected displacement.
        float z = 0.f, fy = 0.f, fx = 0.f;
        for (int dy = -r; dy <= r; dy++) {
            for (int dx = -r; dx <= r; dx++) {
                const float d = window_distance(prev, target, y, x, dy, dx, height, width, channels);
                const float e = expf((best - d) * invT);
                z += e;
                fy = fmaf(e, (float) dy, fy);
                fx = fmaf(e, (float) dx, fx);
            }
        }
        // z >= 1: the best neighbour contributes exp(0).
        const float sy = fminf(fmaxf((float) y + fy / z, 0.f), (float) (height - 1));
        const float sx = fminf(fmaxf((float) x + fx / z, 0.f), (float) (width - 1));
        const int y0 = (int) floorf(sy), x0 = (int) floorf(sx);
        const int y1 = min(y0 + 1, height - 1), x1 = min(x0 + 1, width - 1);
        const float wy = sy - (float) y0, wx = sx - (float) x0;
        const float* p00 = prev + ((long long) y0 * width + x0) * channels;
        const float* p01 = prev + ((long long) y0 * width + x1) * channels;
        const float* p10 = prev + ((long long) y1 * width + x0) * channels;
        const float* p11 = prev + ((long long) y1 * width + x1) * channels;
        for (int c = 0; c < channels; c++) {
            const float top = unit(p00[c]) * (1.f - wx) + unit(p01[c]) * wx;
            const float bottom = unit(p10[c]) * (1.f - wx) + unit(p11[c]) * wx;
            const float warped = top * (1.f - wy) + bottom * wy;
            sum += fabsf(warped - unit(target[c]));
        }
    }

    // Block sum: a shared-memory tree over the next power of two (threads past the block hold 0).
    int span = 1;
    while (span < threads) {
        span <<= 1;
    }
    partial[lane] = sum;
    for (int i = lane + threads; i < span; i += threads) {
        partial[i] = 0.f;
    }
    __syncthreads();
    for (int half = span / 2; half > 0; half >>= 1) {
        if (lane < half) {
            partial[lane] += partial[lane + half];
        }
        __syncthreads();
    }
    if (lane == 0 && t < count - 1) {
        const float pixels = (float) height * (float) width * (float) channels;
        atomicAdd(error + t, partial[0] / pixels);
    }
}
