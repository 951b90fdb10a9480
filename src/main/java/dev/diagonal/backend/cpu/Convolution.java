package dev.diagonal.backend.cpu;

import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * 3D convolution as im2col + the engine's GEMM, over channels-last activations (layers with few output
 * channels go to {@link DirectConvolution} instead). Output pixels are taken in
 * tiles so the unfolded patch matrix stays small (a 480x832 frame unfolded whole would be gigabytes); each
 * tile is unfolded by all threads and then multiplied by the weight as one GEMM, where the time goes.
 *
 * <p>Patch features are ordered (kt, kh, kw, cin), so with channels last every tap is one contiguous run of
 * cin floats, and a tap row fully inside the frame is one run of kw·cin floats.
 */
final class Convolution implements AutoCloseable {
    /** Unfolded tile budget in floats (16 MiB): large enough that GEMM sees hundreds of rows. */
    private static final long TILE_FLOATS = 4L << 20;

    private final Parallel parallel;
    private final Gemm gemm;
    private final DirectConvolution direct;
    private final Arena arena = Arena.ofShared();
    private Tensor scratch;

    Convolution(Parallel parallel, Gemm gemm) {
        this.parallel = parallel;
        this.gemm = gemm;
        this.direct = new DirectConvolution(parallel);
    }

    void conv3d(Tensor x, Tensor w, Tensor bias, Tensor out) {
        String op = "conv3d";
        Checks.f32(op, "x", x);
        Checks.f32(op, "out", out);
        Checks.computeFloat(op, "w", w);
        if (x.rank() != 4 || w.rank() != 5 || out.rank() != 4) {
            throw Checks.fail(op, "x " + x + " and out " + out + " must be [T, H, W, C]; w " + w
                    + " must be [Cout, kt, kh, kw, Cin]");
        }
        int tin = Checks.toInt(op, "frames", x.dim(0));
        int h = Checks.toInt(op, "height", x.dim(1));
        int wd = Checks.toInt(op, "width", x.dim(2));
        int cin = Checks.toInt(op, "channels", x.dim(3));
        int cout = Checks.toInt(op, "out channels", w.dim(0));
        int kt = (int) w.dim(1), kh = (int) w.dim(2), kw = (int) w.dim(3);
        if (w.dim(4) != cin || kh % 2 == 0 || kw % 2 == 0 || kt > tin) {
            throw Checks.fail(op, "w " + w + " does not fit x " + x + " (Cin must match, kh and kw odd, kt <= frames)");
        }
        int tout = tin - kt + 1;
        if (out.dim(0) != tout || out.dim(1) != h || out.dim(2) != wd || out.dim(3) != cout) {
            throw Checks.fail(op, "out " + out + " must be [" + tout + ", " + h + ", " + wd + ", " + cout + "]");
        }
        if (bias != null) {
            Checks.vectorOf(op, "bias", bias, cout);
        }
        long pixels = (long) tout * h * wd;
        int k = kt * kh * kw * cin;
        Tensor w2 = w.reshape(cout, k);
        Tensor out2 = out.reshape(pixels, cout);
        if (k == cin) { // 1x1x1: the activations already are the patch matrix
            gemm.linear(x.reshape(pixels, cin), w2, bias, out2);
            return;
        }
        if (DirectConvolution.suits(cout, kh, kw, tin, h, wd, cin)) {
            direct.conv3d(x, w, bias, out);
            return;
        }
        int tile = (int) Math.max(1, Math.min(pixels, TILE_FLOATS / k));
        Tensor cols = Tensor.of(scratch((long) tile * k).data().asSlice(0, 4L * tile * k), DType.F32, tile, k);
        Geometry g = new Geometry(h, wd, cin, kt, kh, kw);
        for (long p0 = 0; p0 < pixels; p0 += tile) {
            int rows = (int) Math.min(tile, pixels - p0);
            Tensor patch = cols.rows(0, rows);
            unfold(x, g, p0, rows, patch);
            gemm.linear(patch, w2, bias, out2.rows(p0, rows));
        }
    }

    void upsampleNearest2x(Tensor x, Tensor out) {
        String op = "upsampleNearest2x";
        Checks.f32(op, "x", x);
        Checks.f32(op, "out", out);
        if (x.rank() != 4 || out.rank() != 4 || out.dim(0) != x.dim(0) || out.dim(1) != 2 * x.dim(1)
                || out.dim(2) != 2 * x.dim(2) || out.dim(3) != x.dim(3)) {
            throw Checks.fail(op, "x " + x + " must be [T, H, W, C] and out " + out + " [T, 2H, 2W, C]");
        }
        int h = (int) x.dim(1), wd = (int) x.dim(2), c = (int) x.dim(3);
        int srcRows = Checks.toInt(op, "rows", x.dim(0) * h);
        long pixelBytes = 4L * c, outRowBytes = 2L * wd * pixelBytes;
        MemorySegment src = x.data(), dst = out.data();
        Parallel par = parallel.usableFor(x, out);
        par.forRange(srcRows, par.grain(srcRows, 4), (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                long s = r * wd * pixelBytes;
                long d = 2L * r * outRowBytes; // source row r of frame t lands on output rows 2r, 2r+1
                for (int j = 0; j < wd; j++) {
                    MemorySegment.copy(src, s + j * pixelBytes, dst, d + 2 * j * pixelBytes, pixelBytes);
                    MemorySegment.copy(src, s + j * pixelBytes, dst, d + (2 * j + 1) * pixelBytes, pixelBytes);
                }
                MemorySegment.copy(dst, d, dst, d + outRowBytes, outRowBytes);
            }
        });
    }

    private record Geometry(int h, int w, int cin, int kt, int kh, int kw) {
    }

    /** Rows [p0, p0+rows) of the patch matrix: output pixel p = (t, y, x) gathers its kt·kh·kw taps. */
    private void unfold(Tensor x, Geometry g, long p0, int rows, Tensor patch) {
        MemorySegment src = x.data(), dst = patch.data();
        long k = (long) g.kt * g.kh * g.kw * g.cin;
        long run = 4L * g.cin;
        int ph = g.kh / 2, pw = g.kw / 2;
        long frame = (long) g.h * g.w;
        Parallel par = parallel.usableFor(x, patch);
        par.forRange(rows, par.grain(rows, 16), (i0, i1) -> {
            for (int i = i0; i < i1; i++) {
                long p = p0 + i;
                int t = (int) (p / frame);
                int y = (int) (p % frame / g.w);
                int xx = (int) (p % g.w);
                long d = i * k * 4;
                for (int dt = 0; dt < g.kt; dt++) {
                    for (int dy = 0; dy < g.kh; dy++) {
                        int sy = y + dy - ph;
                        long rowStart = ((t + dt) * frame + (long) sy * g.w) * g.cin * 4;
                        if (sy < 0 || sy >= g.h) {
                            dst.asSlice(d, g.kw * run).fill((byte) 0);
                        } else if (xx - pw >= 0 && xx + pw < g.w) {
                            MemorySegment.copy(src, rowStart + (xx - pw) * run, dst, d, g.kw * run);
                        } else {
                            for (int dx = 0; dx < g.kw; dx++) {
                                int sx = xx + dx - pw;
                                if (sx < 0 || sx >= g.w) {
                                    dst.asSlice(d + dx * run, run).fill((byte) 0);
                                } else {
                                    MemorySegment.copy(src, rowStart + sx * run, dst, d + dx * run, run);
                                }
                            }
                        }
                        d += g.kw * run;
                    }
                }
            }
        });
    }

    private Tensor scratch(long floats) {
        if (scratch == null || scratch.numel() < floats) {
            scratch = Tensor.allocate(arena, DType.F32, floats);
        }
        return scratch;
    }

    @Override
    public void close() {
        arena.close();
    }
}
