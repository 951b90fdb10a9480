// Pure layout changes: the CUDA twins of backend/cpu/Patches (patchify, unpatchify) and of
// Convolution.upsampleNearest2x. They move floats without arithmetic, so the results equal the CPU's bits.
//
// Launch shape (every kernel here): any 1-D grid and 1-D block (256 threads is a good default), no dynamic
// shared memory; one thread per output element, covered by a grid-stride loop over a long long count, so the
// writes are coalesced and the reads gather.
//
// frames, height and width are the latent's (or frames') full sizes, not the patch grid's; the launcher checks
// that pt, ph, pw divide them.

namespace {

__device__ __forceinline__ long long first_index() {
    return (long long)blockIdx.x * blockDim.x + threadIdx.x;
}

__device__ __forceinline__ long long grid_stride() {
    return (long long)blockDim.x * gridDim.x;
}

}  // namespace

// latent [C, F, H, W] -> out [(F/pt)(H/ph)(W/pw), C*pt*ph*pw]: tokens ordered (f, h, w) over the patch grid,
// features ordered (c, kt, kh, kw) to match a flattened Conv3d weight [dim, C, pt, ph, pw].
extern "C" __global__ void patchify_f32(const float* latent, float* out, int channels, int frames, int height,
                                        int width, int pt, int ph, int pw) {
    const int gh = height / ph;
    const int gw = width / pw;
    const long long feat = (long long)channels * pt * ph * pw;
    const long long total = (long long)(frames / pt) * gh * gw * feat;
    for (long long o = first_index(); o < total; o += grid_stride()) {
        long long token = o / feat;
        long long e = o - token * feat;
        int kw = (int)(e % pw);
        int kh = (int)(e / pw % ph);
        int kt = (int)(e / ((long long)pw * ph) % pt);
        long long c = e / ((long long)pw * ph * pt);
        int tw = (int)(token % gw);
        int th = (int)(token / gw % gh);
        long long tf = token / ((long long)gw * gh);
        long long fi = tf * pt + kt;
        long long hi = (long long)th * ph + kh;
        long long wi = (long long)tw * pw + kw;
        out[o] = latent[((c * frames + fi) * height + hi) * width + wi];
    }
}

// tokens [(F/pt)(H/ph)(W/pw), pt*ph*pw*C] with features ordered (kt, kh, kw, c) -> out [C, F, H, W]:
// the layout of Wan's head output.
extern "C" __global__ void unpatchify_f32(const float* tokens, float* out, int channels, int frames, int height,
                                          int width, int pt, int ph, int pw) {
    const int gh = height / ph;
    const int gw = width / pw;
    const long long feat = (long long)channels * pt * ph * pw;
    const long long total = (long long)channels * frames * height * width;
    for (long long d = first_index(); d < total; d += grid_stride()) {
        int wi = (int)(d % width);
        int hi = (int)(d / width % height);
        long long rest = d / ((long long)width * height);
        int fi = (int)(rest % frames);
        long long c = rest / frames;
        long long token = ((long long)(fi / pt) * gh + hi / ph) * gw + wi / pw;
        long long e = (((long long)(fi % pt) * ph + hi % ph) * pw + wi % pw) * channels + c;
        out[d] = tokens[token * feat + e];
    }
}

// Nearest-neighbour 2x upsampling in space of channels-last frames: x [T, H, W, C] -> out [T, 2H, 2W, C],
// out[t, y, x, c] = in[t, y/2, x/2, c].
extern "C" __global__ void upsample_nearest2x_f32(const float* x, float* out, int frames, int height, int width,
                                                  int channels) {
    const long long total = (long long)frames * (2 * height) * (2 * width) * channels;
    for (long long o = first_index(); o < total; o += grid_stride()) {
        int c = (int)(o % channels);
        long long pixel = o / channels;
        int ox = (int)(pixel % (2 * width));
        long long rowIndex = pixel / (2 * width);  // t * 2H + oy
        int oy = (int)(rowIndex % (2 * height));
        long long t = rowIndex / (2 * height);
        out[o] = x[((t * height + oy / 2) * width + ox / 2) * channels + c];
    }
}
