package dev.diagonal.backend.cpu;

import dev.diagonal.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Wan's 3D rotary embedding applied in place. Per token the (cos, sin) of each pair are gathered once into
 * lane-expanded rows shared by all heads, so the per-head work is x·cos + swapPairs(x)·(∓sin) in vectors.
 */
final class Rope {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();
    private static final VectorShuffle<Float> SWAP_PAIRS = VectorShuffle.fromOp(F, i -> i ^ 1);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private final Parallel parallel;

    Rope(Parallel parallel) {
        this.parallel = parallel;
    }

    void rope3d(Tensor x, int heads, int frames, int height, int width, int frameOffset, Tensor table) {
        String op = "rope3d";
        Checks.f32(op, "x", x);
        Checks.f32(op, "table", table);
        if (heads <= 0 || frames < 0 || height < 0 || width < 0 || frameOffset < 0) {
            throw Checks.fail(op, "bad geometry heads=" + heads + " frames=" + frames + " height=" + height
                    + " width=" + width + " frameOffset=" + frameOffset);
        }
        int dim = Checks.cols(op, "x", x);
        if (dim % heads != 0 || (dim / heads) % 2 != 0) {
            throw Checks.fail(op, "x " + x + " does not split into " + heads + " heads of an even head dim");
        }
        int headDim = dim / heads;
        int c = headDim / 2;
        long tokens = (long) frames * height * width;
        if (Checks.rows(x) != tokens) {
            throw Checks.fail(op, "x " + x + " must have " + frames + "x" + height + "x" + width + " = " + tokens + " rows");
        }
        if (table.rank() != 3 || table.dim(1) != c || table.dim(2) != 2) {
            throw Checks.fail(op, "table " + table + " must be [maxPositions, " + c + ", 2] for head dim " + headDim);
        }
        long maxPos = table.dim(0);
        long maxNeeded = Math.max(frames == 0 ? 0 : frameOffset + frames, Math.max(height, width));
        if (maxNeeded > maxPos) {
            throw Checks.fail(op, "table " + table + " has " + maxPos + " positions but frameOffset " + frameOffset
                    + " + frames " + frames + ", height " + height + ", width " + width + " need " + maxNeeded);
        }
        int cH = c / 3;
        int cT = c - 2 * cH;
        MemorySegment xs = x.data(), ts = table.data();
        int n = Checks.toInt(op, "tokens", tokens);
        int hw = height * width;
        Parallel par = parallel.usableFor(x, table);
        par.forRange(n, par.grain(n, Math.max(1, 4096 / Math.max(1, dim))), (t0, t1) -> {
            float[] cos = new float[headDim];
            float[] sin = new float[headDim];
            for (int t = t0; t < t1; t++) {
                int f = t / hw;
                int h = (t / width) % height;
                int w = t % width;
                for (int j = 0; j < c; j++) {
                    int pos = j < cT ? frameOffset + f : j < cT + cH ? h : w;
                    long at = ((long) pos * c + j) * 8;
                    float cs = ts.get(F32, at);
                    float sn = ts.get(F32, at + 4);
                    cos[2 * j] = cs;
                    cos[2 * j + 1] = cs;
                    sin[2 * j] = -sn;
                    sin[2 * j + 1] = sn;
                }
                long row = (long) t * dim * 4;
                for (int hd = 0; hd < heads; hd++) {
                    long base = row + (long) hd * headDim * 4;
                    int i = 0;
                    for (; i <= headDim - L; i += L) {
                        FloatVector v = FloatVector.fromMemorySegment(F, xs, base + 4L * i, LE);
                        FloatVector s = v.rearrange(SWAP_PAIRS).mul(FloatVector.fromArray(F, sin, i));
                        v.fma(FloatVector.fromArray(F, cos, i), s).intoMemorySegment(xs, base + 4L * i, LE);
                    }
                    for (; i < headDim; i += 2) {
                        float a = xs.get(F32, base + 4L * i);
                        float b = xs.get(F32, base + 4L * i + 4);
                        xs.set(F32, base + 4L * i, a * cos[i] + b * sin[i]);
                        xs.set(F32, base + 4L * i + 4, b * cos[i] + a * sin[i + 1]);
                    }
                }
            }
        });
    }
}
