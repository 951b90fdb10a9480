package dev.diagonal.backend.cpu;

import dev.diagonal.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * {@link dev.diagonal.backend.Backend#flowWarpError}: the local-correlation flow, bilinear warp and mean
 * absolute error of tools/eval/metrics.py {@code flow_warp_error}, one pixel at a time in double precision
 * (it is a metric, not a hot path, and the reference is float64 in the golden test).
 *
 * <p>Rows of the frames are independent, so (pair, row) items are spread over the pool; each row's sum is
 * kept apart and the rows are added in order afterwards, so the result does not depend on the thread count.
 */
final class FlowWarp {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;

    private final Parallel parallel;

    FlowWarp(Parallel parallel) {
        this.parallel = parallel;
    }

    void flowWarpError(Tensor frames, int window, float temperature, Tensor error) {
        String op = "flowWarpError";
        Checks.f32(op, "frames", frames);
        Checks.f32(op, "error", error);
        if (frames.rank() != 4) {
            throw Checks.fail(op, "frames " + frames + " must be [count, H, W, C]");
        }
        int count = Checks.toInt(op, "count", frames.dim(0));
        int h = Checks.toInt(op, "height", frames.dim(1));
        int w = Checks.toInt(op, "width", frames.dim(2));
        int c = Checks.toInt(op, "channels", frames.dim(3));
        if (count < 2) {
            throw Checks.fail(op, "frames " + frames + " must hold at least 2 frames");
        }
        if (h < 1 || w < 1 || c < 1) {
            throw Checks.fail(op, "frames " + frames + " must not be empty");
        }
        if (error.rank() != 1 || error.dim(0) != count - 1) {
            throw Checks.fail(op, "error " + error + " must be [" + (count - 1) + "] for frames " + frames);
        }
        if (window < 1 || window % 2 == 0) {
            throw Checks.fail(op, "window " + window + " must be odd and >= 1");
        }
        if (!(temperature > 0) || Float.isInfinite(temperature)) {
            throw Checks.fail(op, "temperature " + temperature + " must be positive and finite");
        }
        int rows = Checks.toInt(op, "pairs x height", (long) (count - 1) * h);
        double[] rowSums = new double[rows];
        Geometry g = new Geometry(h, w, c, window / 2, temperature);
        MemorySegment data = frames.data();
        Parallel par = parallel.usableFor(frames, error);
        par.forRange(rows, par.grain(rows, 1), (r0, r1) -> {
            double[] target = new double[c];
            for (int r = r0; r < r1; r++) {
                rowSums[r] = row(data, g, r / h, r % h, target);
            }
        });
        double pixels = (double) h * w * c;
        for (int t = 0; t < count - 1; t++) {
            double s = 0;
            for (int y = 0; y < h; y++) {
                s += rowSums[t * h + y];
            }
            error.setFloat(t, (float) (s / pixels));
        }
    }

    private record Geometry(int h, int w, int c, int radius, double temperature) {
        /** Byte offset of channel 0 of pixel (y, x) of frame t. */
        long at(int t, int y, int x) {
            return 4L * ((((long) t * h + y) * w + x) * c);
        }
    }

    /** Σ over the pixels of row y of frame t + 1 and their channels of |warped - next|. */
    private static double row(MemorySegment data, Geometry g, int t, int y, double[] target) {
        int r = g.radius;
        double sum = 0;
        for (int x = 0; x < g.w; x++) {
            long nextAt = g.at(t + 1, y, x);
            for (int ch = 0; ch < g.c; ch++) {
                target[ch] = unit(data.get(F32, nextAt + 4L * ch));
            }
            // Softmax over the window of -d / T, shifted by the smallest distance so no exponent is positive.
            double best = Double.POSITIVE_INFINITY;
            for (int dy = -r; dy <= r; dy++) {
                for (int dx = -r; dx <= r; dx++) {
                    best = Math.min(best, distance(data, g, t, clamp(y + dy, g.h), clamp(x + dx, g.w), target));
                }
            }
            double z = 0, fy = 0, fx = 0;
            for (int dy = -r; dy <= r; dy++) {
                for (int dx = -r; dx <= r; dx++) {
                    double d = distance(data, g, t, clamp(y + dy, g.h), clamp(x + dx, g.w), target);
                    double e = Math.exp((best - d) / g.temperature);
                    z += e;
                    fy += e * dy;
                    fx += e * dx;
                }
            }
            double sy = Math.clamp(y + fy / z, 0, g.h - 1);
            double sx = Math.clamp(x + fx / z, 0, g.w - 1);
            int y0 = (int) Math.floor(sy), x0 = (int) Math.floor(sx);
            int y1 = Math.min(y0 + 1, g.h - 1), x1 = Math.min(x0 + 1, g.w - 1);
            double wy = sy - y0, wx = sx - x0;
            for (int ch = 0; ch < g.c; ch++) {
                long o = 4L * ch;
                double top = unit(data.get(F32, g.at(t, y0, x0) + o)) * (1 - wx)
                        + unit(data.get(F32, g.at(t, y0, x1) + o)) * wx;
                double bottom = unit(data.get(F32, g.at(t, y1, x0) + o)) * (1 - wx)
                        + unit(data.get(F32, g.at(t, y1, x1) + o)) * wx;
                double warped = top * (1 - wy) + bottom * wy;
                sum += Math.abs(warped - target[ch]);
            }
        }
        return sum;
    }

    /** Squared colour distance between pixel (y, x) of frame t and the target colour. */
    private static double distance(MemorySegment data, Geometry g, int t, int y, int x, double[] target) {
        long at = g.at(t, y, x);
        double d = 0;
        for (int ch = 0; ch < g.c; ch++) {
            double diff = unit(data.get(F32, at + 4L * ch)) - target[ch];
            d += diff * diff;
        }
        return d;
    }

    /** Replicate padding: the nearest index inside [0, size). */
    private static int clamp(int i, int size) {
        return Math.min(Math.max(i, 0), size - 1);
    }

    /** [-1, 1] to [0, 1]. */
    private static double unit(float v) {
        return (v + 1.0) / 2;
    }
}
