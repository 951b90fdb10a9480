package dev.diagonal.backend.cpu;

import dev.diagonal.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Patchify / unpatchify: pure layout changes between a latent [C, F, H, W] and patch tokens. Each inner run
 * of pw (a patch's kw axis) is contiguous on the latent side, so rows are copied in pw-element pieces.
 */
final class Patches {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;

    private final Parallel parallel;

    Patches(Parallel parallel) {
        this.parallel = parallel;
    }

    /** latent [C, F, H, W] → out [(F/pt)(H/ph)(W/pw), C·pt·ph·pw], features (c, kt, kh, kw). */
    void patchify(Tensor latent, int pt, int ph, int pw, Tensor out) {
        String op = "patchify";
        Geometry g = geometry(op, "latent", latent, pt, ph, pw);
        Checks.f32(op, "out", out);
        long feat = (long) g.c * pt * ph * pw;
        if (out.rank() != 2 || out.dim(0) != g.tokens() || out.dim(1) != feat) {
            throw Checks.fail(op, "out " + out + " must be [" + g.tokens() + ", " + feat + "] for latent " + latent
                    + " with patch " + pt + "x" + ph + "x" + pw);
        }
        MemorySegment src = latent.data(), dst = out.data();
        int tokens = Checks.toInt(op, "tokens", g.tokens());
        Parallel par = parallel.usableFor(latent, out);
        par.forRange(tokens, par.grain(tokens, 64), (t0, t1) -> {
            for (int t = t0; t < t1; t++) {
                int[] fhw = g.cell(t);
                long o = t * feat;
                for (int c = 0; c < g.c; c++) {
                    for (int kt = 0; kt < pt; kt++) {
                        for (int kh = 0; kh < ph; kh++) {
                            long s = g.latentIndex(c, fhw[0] * pt + kt, fhw[1] * ph + kh, fhw[2] * pw);
                            MemorySegment.copy(src, 4 * s, dst, 4 * o, 4L * pw);
                            o += pw;
                        }
                    }
                }
            }
        });
    }

    /** tokens [(F/pt)(H/ph)(W/pw), pt·ph·pw·C] with features (kt, kh, kw, c) → out [C, F, H, W]. */
    void unpatchify(Tensor tokens, int pt, int ph, int pw, Tensor out) {
        String op = "unpatchify";
        Geometry g = geometry(op, "out", out, pt, ph, pw);
        Checks.f32(op, "tokens", tokens);
        long feat = (long) g.c * pt * ph * pw;
        if (tokens.rank() != 2 || tokens.dim(0) != g.tokens() || tokens.dim(1) != feat) {
            throw Checks.fail(op, "tokens " + tokens + " must be [" + g.tokens() + ", " + feat + "] for out " + out
                    + " with patch " + pt + "x" + ph + "x" + pw);
        }
        MemorySegment src = tokens.data(), dst = out.data();
        int n = Checks.toInt(op, "tokens", g.tokens());
        Parallel par = parallel.usableFor(tokens, out);
        par.forRange(n, par.grain(n, 64), (t0, t1) -> {
            for (int t = t0; t < t1; t++) {
                int[] fhw = g.cell(t);
                long s = t * feat;
                for (int kt = 0; kt < pt; kt++) {
                    for (int kh = 0; kh < ph; kh++) {
                        for (int kw = 0; kw < pw; kw++) {
                            for (int c = 0; c < g.c; c++) {
                                long d = g.latentIndex(c, fhw[0] * pt + kt, fhw[1] * ph + kh, fhw[2] * pw + kw);
                                dst.set(F32, 4 * d, src.get(F32, 4 * s));
                                s++;
                            }
                        }
                    }
                }
            }
        });
    }

    private record Geometry(int c, int f, int h, int w, int pt, int ph, int pw) {
        long tokens() {
            return (long) (f / pt) * (h / ph) * (w / pw);
        }

        /** Token t's patch coordinates (frame, row, col) in the patch grid. */
        int[] cell(int t) {
            int gh = h / ph, gw = w / pw;
            return new int[] {t / (gh * gw), (t / gw) % gh, t % gw};
        }

        long latentIndex(int ci, int fi, int hi, int wi) {
            return (((long) ci * f + fi) * h + hi) * w + wi;
        }
    }

    private static Geometry geometry(String op, String name, Tensor t, int pt, int ph, int pw) {
        Checks.f32(op, name, t);
        if (t.rank() != 4) {
            throw Checks.fail(op, name + " must be [C, F, H, W], got " + t);
        }
        if (pt <= 0 || ph <= 0 || pw <= 0) {
            throw Checks.fail(op, "patch sizes must be positive, got " + pt + "x" + ph + "x" + pw);
        }
        int c = Checks.toInt(op, "C", t.dim(0)), f = Checks.toInt(op, "F", t.dim(1));
        int h = Checks.toInt(op, "H", t.dim(2)), w = Checks.toInt(op, "W", t.dim(3));
        if (f % pt != 0 || h % ph != 0 || w % pw != 0) {
            throw Checks.fail(op, name + " " + t + " is not divisible by patch " + pt + "x" + ph + "x" + pw);
        }
        return new Geometry(c, f, h, w, pt, ph, pw);
    }
}
