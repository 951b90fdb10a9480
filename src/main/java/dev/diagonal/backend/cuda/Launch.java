package dev.diagonal.backend.cuda;

/**
 * A kernel's launch shape, and the one place that decides every shape the backend launches with. Each
 * factory names the .cu header whose launch contract it follows; a kernel whose author changes its contract
 * changes the matching constant here, nowhere else.
 */
record Launch(int gridX, int gridY, int gridZ, int blockX, int blockY, int blockZ, int sharedBytes) {

    /** Threads per block of the 1-D launches (elementwise.cu, schedule.cu, rope.cu, layout.cu). */
    static final int THREADS_1D = 256;

    /** Threads per block of the row kernels (norms.cu: a multiple of 32, at most 1024; 256 intended). */
    static final int NORM_THREADS = 256;

    /*
     * attention.cu: these numbers must match the launch contracts in attention.cu's header (they follow it as
     * its author wrote it while this was written; the kernel traps on a block or shared-memory size it does not
     * expect, so a mismatch fails loudly). attention_f32: one block of ATTENTION_THREADS threads (4 warps of 16
     * query rows) per ATTENTION_QUERY_TILE queries of one head and one ATTENTION_HEAD_SLICE-wide slice of the
     * head dim; dynamic shared memory 256 * (P + 8) bytes with P = min(128, headDim rounded up to 16).
     * biased_attention_f32: one block of BIASED_ATTENTION_THREADS per (query row, head); dynamic shared memory
     * 4 * (headDim + nk) bytes.
     */
    static final int ATTENTION_QUERY_TILE = 64;
    static final int ATTENTION_THREADS = 128;
    static final int ATTENTION_HEAD_SLICE = 128;
    static final int BIASED_ATTENTION_THREADS = 128;

    /**
     * Dynamic shared memory a kernel may take without raising CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: the
     * default 48 KiB is for static and dynamic together, so 1 KiB is left for the kernels' static reduction arrays
     * (biased_attention_f32 has 256 bytes).
     */
    static final int DEFAULT_SHARED_LIMIT = 47 * 1024;

    /** conv3d.cu: a 64 x 64 tile of [output pixels, output channels] per block of 256 threads, static shared memory. */
    static final int CONV_TILE_M = 64;
    static final int CONV_TILE_N = 64;
    static final int CONV_THREADS = 256;

    /** flowwarp.cu: a 16 x 16 pixel tile of one frame pair per block, pairs along grid z. */
    static final int FLOW_WARP_TILE = 16;

    /** The CUDA limit on gridDim.x, and on gridDim.y and gridDim.z. */
    static final long MAX_GRID_X = Integer.MAX_VALUE;
    static final long MAX_GRID_YZ = 65_535;

    /**
     * One thread per element over n elements, 256 to a block. Grid-stride kernels (every elementwise.cu and
     * schedule.cu kernel) would be right with fewer blocks; enough blocks to cover n is right for them and for a
     * one-thread-per-element kernel alike (rope.cu, layout.cu), and gridDim.x reaches 2^31 - 1, beyond any
     * tensor here.
     */
    static Launch elementwise(long n) {
        long blocks = Math.max(1, Math.ceilDiv(n, THREADS_1D));
        return new Launch(toGrid(blocks, MAX_GRID_X, "elements"), 1, 1, THREADS_1D, 1, 1, 0);
    }

    /** norms.cu: one block per row (its kernels also stride over rows, so the cap is only gridDim.x's). */
    static Launch rows(long rows) {
        return new Launch(toGrid(Math.max(1, rows), MAX_GRID_X, "rows"), 1, 1, NORM_THREADS, 1, 1, 0);
    }

    /** attention_f32: grid (ceil(nq / 64), heads, ceil(headDim / 128)), block 128, 256 * (P + 8) bytes shared. */
    static Launch attention(int nq, int heads, int headDim) {
        int p = Math.min(ATTENTION_HEAD_SLICE, (headDim + 15) / 16 * 16);
        return new Launch(toGrid(Math.ceilDiv((long) nq, ATTENTION_QUERY_TILE), MAX_GRID_X, "query tiles"),
                toGrid(heads, MAX_GRID_YZ, "heads"), toGrid(Math.ceilDiv((long) headDim, ATTENTION_HEAD_SLICE),
                MAX_GRID_YZ, "head-dim slices"), ATTENTION_THREADS, 1, 1, 256 * (p + 8));
    }

    /** biased_attention_f32: grid (nq, heads, 1), block 128, 4 * (headDim + nk) bytes shared. */
    static Launch biasedAttention(int nq, int nk, int heads, int headDim) {
        long shared = 4L * ((long) headDim + nk);
        if (shared > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("biased attention over " + nk + " keys needs " + shared + " bytes of shared memory");
        }
        return new Launch(toGrid(nq, MAX_GRID_X, "queries"), toGrid(heads, MAX_GRID_YZ, "heads"), 1,
                BIASED_ATTENTION_THREADS, 1, 1, (int) shared);
    }

    /** conv3d.cu: grid (ceil(M / 64), ceil(Cout / 64), 1), block 256, no dynamic shared memory. */
    static Launch conv3d(long pixels, int cout) {
        return new Launch(toGrid(Math.ceilDiv(pixels, CONV_TILE_M), MAX_GRID_X, "pixel tiles"),
                toGrid(Math.ceilDiv((long) cout, CONV_TILE_N), MAX_GRID_YZ, "channel tiles"), 1, CONV_THREADS, 1, 1, 0);
    }

    /** flowwarp.cu: grid (ceil(W / 16), ceil(H / 16), count - 1), block (16, 16, 1), no dynamic shared memory. */
    static Launch flowWarp(int width, int height, int pairs) {
        return new Launch(toGrid(Math.ceilDiv((long) width, FLOW_WARP_TILE), MAX_GRID_X, "column tiles"),
                toGrid(Math.ceilDiv((long) height, FLOW_WARP_TILE), MAX_GRID_YZ, "row tiles"),
                toGrid(pairs, MAX_GRID_YZ, "frame pairs"), FLOW_WARP_TILE, FLOW_WARP_TILE, 1, 0);
    }

    private static int toGrid(long blocks, long max, String what) {
        if (blocks > max) {
            throw new IllegalArgumentException(blocks + " blocks of " + what + " exceed CUDA's grid limit " + max);
        }
        return (int) blocks;
    }
}
