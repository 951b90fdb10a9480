// The flow-matching noise schedule's pointwise steps: the CUDA twins of Backend.flowToX0, addNoise and
// flowStep (backend/cpu/CpuBackend computes them with Pointwise.axpby).
//
// Launch shape (every kernel here): any 1-D grid and 1-D block (256 threads and up to 65535 blocks is a good
// default), no dynamic shared memory; a grid-stride loop over long long n covers every element.
//
// Rounding follows the CPU exactly: axpby computes a*ca + b*cb as two rounded products and one rounded sum
// (no fma), so these use __fmul_rn/__fadd_rn, which nvcc never contracts into an fma. flowToX0 is
// xt*1 + v*(-sigma) there; xt*1 is exact, so xt + v*(-sigma) gives the same bits.
//
// Aliasing: no pointer is __restrict__; any output may alias any input exactly (each element is read before it
// is written, at the same index, by the same thread): addNoise runs in place, flowStep writes next over xt.

namespace {

__device__ __forceinline__ long long first_index() {
    return (long long)blockIdx.x * blockDim.x + threadIdx.x;
}

__device__ __forceinline__ long long grid_stride() {
    return (long long)blockDim.x * gridDim.x;
}

// x0 = xt - sigma v, rounded as the CPU's axpby(xt, 1, v, -sigma).
__device__ __forceinline__ float x0_of(float xt, float v, float sigma) {
    return __fadd_rn(__fmul_rn(v, -sigma), xt);
}

// (1 - sigma) x0 + sigma noise, rounded as the CPU's axpby(x0, 1 - sigma, noise, sigma).
__device__ __forceinline__ float noised(float x0, float noise, float sigma) {
    return __fadd_rn(__fmul_rn(noise, sigma), __fmul_rn(x0, __fsub_rn(1.0f, sigma)));
}

}  // namespace

// out = xt - sigma v.
extern "C" __global__ void flow_to_x0_f32(const float* xt, const float* v, float sigma, float* out, long long n) {
    for (long long i = first_index(); i < n; i += grid_stride()) {
        out[i] = x0_of(xt[i], v[i], sigma);
    }
}

// out = (1 - sigma) x0 + sigma noise.
extern "C" __global__ void add_noise_f32(const float* x0, const float* noise, float sigma, float* out, long long n) {
    for (long long i = first_index(); i < n; i += grid_stride()) {
        out[i] = noised(x0[i], noise[i], sigma);
    }
}

// One diagonal denoising step in one pass: x0 = xt - sigma v, next = (1 - nextSigma) x0 + nextSigma noise, with
// the same bits as flow_to_x0_f32 followed by add_noise_f32 (next is computed from the rounded x0). next may
// alias xt (the sampler re-noises into its input buffer).
extern "C" __global__ void flow_step_f32(const float* xt, const float* v, const float* noise, float sigma,
                                         float nextSigma, float* x0, float* next, long long n) {
    for (long long i = first_index(); i < n; i += grid_stride()) {
        float clean = x0_of(xt[i], v[i], sigma);
        float nz = noise[i];
        x0[i] = clean;
        next[i] = noised(clean, nz, nextSigma);
    }
}
