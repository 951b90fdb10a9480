// Wan's 3D rotary embedding, in place: the CUDA twin of backend/cpu/Rope (Backend.rope3d).
//
// Launch shape: any 1-D grid and 1-D block (256 threads is a good default), no dynamic shared memory; one
// thread per rotated pair (token, head, j), covered by a grid-stride loop over
// tokens * heads * headDim/2 pairs (a long long count).
//
// x is [tokens, heads * headDim], tokens ordered (frame, row, col) over frames x height x width; frame f sits at
// position frameOffset + f. table is [maxPositions, c, 2] of (cos, sin) with c = headDim / 2: pair column j
// rotates by the frame position for j < cT, by the row for cT <= j < cT + cH and by the column after that, with
// Wan's split cH = cW = c / 3, cT = c - 2 cH. Pairs are adjacent elements (2j, 2j+1), as view_as_complex pairs
// them: (a, b) -> (a cos - b sin, b cos + a sin).
//
// Rounding follows the CPU's vector path: out[2j] = fma(a, cos, b * -sin), out[2j+1] = fma(b, cos, a * sin),
// the product rounded first (__fmul_rn is never contracted), so the result has the CPU's bits.

extern "C" __global__ void rope3d_f32(float* x, int heads, int headDim, int frames, int height, int width,
                                      int frameOffset, const float* table) {
    const int c = headDim / 2;
    const int cH = c / 3;
    const int cT = c - 2 * cH;
    const long long hw = (long long)height * width;
    const long long pairs = (long long)frames * hw * heads * c;
    const long long stride = (long long)blockDim.x * gridDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < pairs; i += stride) {
        // i = ((token * heads) + head) * c + j, and x's element of the pair is token * heads * headDim
        // + head * headDim + 2j = 2i: the pairs of one row are contiguous.
        int j = (int)(i % c);
        long long token = i / c / heads;
        long long pos;
        if (j < cT) {
            pos = frameOffset + token / hw;
        } else if (j < cT + cH) {
            pos = (token / width) % height;
        } else {
            pos = token % width;
        }
        const float* cs = table + (pos * c + j) * 2;
        float cosv = cs[0];
        float sinv = cs[1];
        float* p = x + 2 * i;
        float a = p[0];
        float b = p[1];
        p[0] = fmaf(a, cosv, __fmul_rn(b, -sinv));
        p[1] = fmaf(b, cosv, __fmul_rn(a, sinv));
    }
}
