package dev.diagonal.eval;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Deterministic vision metrics for videos of one moving shape on a plain background, the same numbers
 * tools/eval/metrics.py computes: the object's pixels (far from the frame's median colour), its centroid
 * track, colour (the palette entry nearest its inside), shape (whitened complex moments), direction (dominant
 * displacement over the first frames), speed and jerk of the track, per-frame saturation, and how far the
 * background is from the colour asked for.
 *
 * <p>Frames are interleaved RGB8, {@code width · height · 3} bytes each.
 */
public final class VideoMetrics {
    static final double OBJECT_THRESHOLD = 0.35;
    static final int MIN_PIXELS = 6;
    static final int DIRECTION_FRAMES = 12;
    /** world.py's sharp triangle's third moment and square's fourth, and the share of them that reads as corners. */
    static final double TRIANGLE_M3 = 0.66;
    static final double SQUARE_M4 = 0.43;
    static final double CORNERS = 0.35;
    /** The share of frames a shape reading must hold in (tools/eval/metrics.py HOLDS says why). */
    static final double HOLDS = 2.0 / 3.0;
    /** Background error past which a person sees a tint (tools/eval/metrics.py BACKGROUND_OFF). */
    public static final double TINTED = 0.06;

    private final int width;
    private final int height;

    public VideoMetrics(int width, int height) {
        if (width < 1 || height < 1) {
            throw new IllegalArgumentException("frame size " + width + "x" + height);
        }
        this.width = width;
        this.height = height;
    }

    /** Object pixels of a frame: summed |RGB - background| (in [0, 1] units) above the threshold. */
    public boolean[] objectMask(byte[] rgb) {
        double[] median = background(rgb);
        boolean[] mask = new boolean[width * height];
        for (int i = 0; i < mask.length; i++) {
            double d = 0;
            for (int c = 0; c < 3; c++) {
                d += Math.abs((rgb[3 * i + c] & 0xff) / 255.0 - median[c]);
            }
            mask[i] = d > OBJECT_THRESHOLD;
        }
        return mask;
    }

    /** A frame's background colour in [0, 1]: its per-channel median (objects cover a few percent of it). */
    public double[] background(byte[] rgb) {
        int n = width * height;
        checkFrame(rgb);
        double[] median = new double[3];
        int[] hist = new int[256];
        for (int c = 0; c < 3; c++) {
            Arrays.fill(hist, 0);
            for (int i = 0; i < n; i++) {
                hist[rgb[3 * i + c] & 0xff]++;
            }
            median[c] = medianOf(hist, n) / 255.0;
        }
        return median;
    }

    /** RGB distance (in [0, 1] units) between a frame's background and the asked colour. */
    public double backgroundError(byte[] rgb, double[] asked) {
        double[] bg = background(rgb);
        return Math.sqrt(Math.pow(bg[0] - asked[0], 2) + Math.pow(bg[1] - asked[1], 2) + Math.pow(bg[2] - asked[2], 2));
    }

    /** Mean {@link #backgroundError} over frames. */
    public double backgroundError(List<byte[]> frames, double[] asked) {
        double sum = 0;
        for (byte[] f : frames) {
            sum += backgroundError(f, asked);
        }
        return sum / frames.size();
    }

    // torch.median returns the lower of the two middle values for an even count.
    private static int medianOf(int[] hist, int n) {
        int rank = (n - 1) / 2;
        int seen = 0;
        for (int v = 0; v < 256; v++) {
            seen += hist[v];
            if (seen > rank) {
                return v;
            }
        }
        return 255;
    }

    /** Centroid (x, y) of a mask, or null when it has fewer than {@value #MIN_PIXELS} pixels. */
    public double[] centroid(boolean[] mask) {
        double sx = 0;
        double sy = 0;
        int count = 0;
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                if (mask[y * width + x]) {
                    sx += x;
                    sy += y;
                    count++;
                }
            }
        }
        return count < MIN_PIXELS ? null : new double[]{sx / count, sy / count};
    }

    /**
     * The palette entry nearest to the mean colour of the object over all frames, or null: read inside its
     * outline, whose pixels are blends with the background (tools/eval/metrics.py colour_of says why), unless
     * the object is too thin to have an inside.
     */
    public String colour(List<byte[]> frames, List<boolean[]> masks, Map<String, double[]> palette) {
        double[] sums = colourSums(frames, masks);
        if (sums[3] < MIN_PIXELS) {
            return null;
        }
        int at = sums[7] >= MIN_PIXELS ? 4 : 0; // the interior, unless the object is too thin to have one
        double n = sums[at + 3];
        double[] mean = {sums[at] / n, sums[at + 1] / n, sums[at + 2] / n};
        String best = null;
        double bestD = Double.POSITIVE_INFINITY;
        for (Map.Entry<String, double[]> e : new TreeMap<>(palette).entrySet()) {
            double d = 0;
            for (int c = 0; c < 3; c++) {
                double diff = e.getValue()[c] - mean[c];
                d += diff * diff;
            }
            if (d < bestD) {
                bestD = d;
                best = e.getKey();
            }
        }
        return best;
    }

    /**
     * One pass over the frames: {r, g, b, pixels} summed over the mask's pixels, then the same over its
     * interior ones (all 8 neighbours in it).
     */
    private double[] colourSums(List<byte[]> frames, List<boolean[]> masks) {
        double[] sums = new double[8];
        for (int f = 0; f < frames.size(); f++) {
            byte[] rgb = frames.get(f);
            boolean[] m = masks.get(f);
            for (int i = 0; i < m.length; i++) {
                if (!m[i]) {
                    continue;
                }
                boolean inside = isInterior(m, i % width, i / width);
                for (int c = 0; c < 3; c++) {
                    double v = (rgb[3 * i + c] & 0xff) / 255.0;
                    sums[c] += v;
                    sums[4 + c] += inside ? v : 0;
                }
                sums[3]++;
                sums[7] += inside ? 1 : 0;
            }
        }
        return sums;
    }

    private boolean isInterior(boolean[] m, int x, int y) {
        if (x == 0 || y == 0 || x == width - 1 || y == height - 1) {
            return false;
        }
        for (int dy = -1; dy <= 1; dy++) {
            for (int dx = -1; dx <= 1; dx++) {
                if (!m[(y + dy) * width + x + dx]) {
                    return false;
                }
            }
        }
        return true;
    }

    /**
     * circle, square, triangle or diamond: the reading that holds in more than {@link #HOLDS} of the frames
     * where the object is whole; null when none does (an outline that keeps changing is a blob to a person).
     */
    public String shape(List<boolean[]> masks) {
        Map<String, Integer> votes = new TreeMap<>();
        int read = 0;
        for (boolean[] m : masks) {
            String s = wholeObject(m) ? shapeOfMask(m) : null;
            if (s != null) {
                votes.merge(s, 1, Integer::sum);
                read++;
            }
        }
        for (Map.Entry<String, Integer> e : votes.entrySet()) {
            if (e.getValue() > HOLDS * read) {
                return e.getKey();
            }
        }
        return null;
    }

    /** At least {@value #MIN_PIXELS} pixels and none on the border (a cut object has a cut shape). */
    private boolean wholeObject(boolean[] m) {
        int count = 0;
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                if (m[y * width + x]) {
                    if (x == 0 || y == 0 || x == width - 1 || y == height - 1) {
                        return false;
                    }
                    count++;
                }
            }
        }
        return count >= MIN_PIXELS;
    }

    /**
     * One frame's shape from its whitened complex moments (tools/eval/metrics.py shape_of_mask, which says
     * why): a triangle has a large third, a square or diamond a large fourth, whose sign tells them apart.
     */
    String shapeOfMask(boolean[] m) {
        double[] moments = shapeMoments(m);
        if (moments == null) {
            return null;
        }
        double triangle = Math.hypot(moments[0], moments[1]) / TRIANGLE_M3;
        double square = Math.hypot(moments[2], moments[3]) / SQUARE_M4;
        if (Math.max(triangle, square) < CORNERS) {
            return "circle";
        }
        if (triangle >= square) {
            return "triangle";
        }
        return moments[2] < 0 ? "square" : "diamond";
    }

    /**
     * {re m3, im m3, re m4, im m4}: sum(z^n) / sum(|z|^n) over the mask's pixels, z their offset from the
     * centroid whitened by the inverse square root of their covariance; null for a mask with no area.
     */
    double[] shapeMoments(boolean[] m) {
        double sx = 0, sy = 0;
        int count = 0;
        for (int i = 0; i < m.length; i++) {
            if (m[i]) {
                sx += i % width;
                sy += i / width;
                count++;
            }
        }
        double cx = sx / count, cy = sy / count, a = 0, b = 0, c = 0;
        for (int i = 0; i < m.length; i++) {
            if (m[i]) {
                double x = i % width - cx, y = i / width - cy;
                a += x * x;
                b += x * y;
                c += y * y;
            }
        }
        a /= count;
        b /= count;
        c /= count;
        double det = a * c - b * b;
        if (det <= 1e-9) {
            return null;
        }
        // C^(1/2) = (C + sqrt(det) I) / sqrt(a + c + 2 sqrt(det)) for a 2x2 covariance C; then its inverse.
        double s = Math.sqrt(det), t = Math.sqrt(a + c + 2 * s);
        double ra = (a + s) / t, rb = b / t, rc = (c + s) / t, d = ra * rc - rb * rb;
        double ia = rc / d, ib = -rb / d, ic = ra / d;
        double re3 = 0, im3 = 0, re4 = 0, im4 = 0, n3 = 0, n4 = 0;
        for (int i = 0; i < m.length; i++) {
            if (m[i]) {
                double x = i % width - cx, y = i / width - cy;
                double u = ia * x + ib * y, v = ib * x + ic * y;
                double u2 = u * u - v * v, v2 = 2 * u * v;
                double r2 = u * u + v * v;
                re3 += u2 * u - v2 * v;
                im3 += u2 * v + v2 * u;
                re4 += u2 * u2 - v2 * v2;
                im4 += 2 * u2 * v2;
                n3 += r2 * Math.sqrt(r2);
                n4 += r2 * r2;
            }
        }
        return new double[]{re3 / n3, im3 / n3, re4 / n4, im4 / n4};
    }

    /** left, right, up or down: the dominant displacement over the first frames; null if static or unseen. */
    public String direction(List<double[]> track) {
        int first = -1, last = -1, seen = 0;
        for (int f = 0; f < Math.min(DIRECTION_FRAMES, track.size()); f++) {
            if (track.get(f) != null) {
                if (first < 0) {
                    first = f;
                }
                last = f;
                seen++;
            }
        }
        if (seen < 4) {
            return null;
        }
        double dx = track.get(last)[0] - track.get(first)[0];
        double dy = track.get(last)[1] - track.get(first)[1];
        if (Math.max(Math.abs(dx), Math.abs(dy)) < 2.0) {
            return null;
        }
        if (Math.abs(dx) >= Math.abs(dy)) {
            return dx > 0 ? "right" : "left";
        }
        return dy > 0 ? "down" : "up";
    }

    /** Mean speed (pixels per frame) of the track, over steps where both ends were seen; NaN if none. */
    public static double speed(List<double[]> track) {
        double sum = 0;
        int n = 0;
        for (int f = 1; f < track.size(); f++) {
            double[] a = track.get(f - 1), b = track.get(f);
            if (a != null && b != null) {
                sum += Math.hypot(b[0] - a[0], b[1] - a[1]);
                n++;
            }
        }
        return n == 0 ? Double.NaN : sum / n;
    }

    /** Mean HSV saturation of a frame: (max - min) / max over RGB, max floored at 1e-3. */
    public double saturation(byte[] rgb) {
        checkFrame(rgb);
        double sum = 0;
        int n = width * height;
        for (int i = 0; i < n; i++) {
            double r = (rgb[3 * i] & 0xff) / 255.0, g = (rgb[3 * i + 1] & 0xff) / 255.0, b = (rgb[3 * i + 2] & 0xff) / 255.0;
            double mx = Math.max(r, Math.max(g, b)), mn = Math.min(r, Math.min(g, b));
            sum += (mx - mn) / Math.max(mx, 1e-3);
        }
        return sum / n;
    }

    private void checkFrame(byte[] rgb) {
        if (rgb.length != width * height * 3) {
            throw new IllegalArgumentException("frame has " + rgb.length + " bytes, expected " + width * height * 3);
        }
    }
}
