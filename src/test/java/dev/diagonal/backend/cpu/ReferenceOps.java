package dev.diagonal.backend.cpu;

/**
 * Plain double-precision oracles for the CPU ops: the simplest loops that follow the Backend Javadoc
 * (and Wan's reference code) literally. Inputs are the float values the backend saw, widened.
 */
final class ReferenceOps {
    private ReferenceOps() {
    }

    /** out[i][j] = Σ x[i][p] w[j][p] + bias[j]; absSum[i][j] = Σ |x w| + |bias| for tolerances. */
    static double[][] linear(float[] x, float[] w, float[] bias, int n, int k, int m, double[][] absSum) {
        double[][] out = new double[n][m];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < m; j++) {
                double s = bias == null ? 0 : bias[j];
                double a = bias == null ? 0 : Math.abs(bias[j]);
                for (int p = 0; p < k; p++) {
                    double t = (double) x[i * k + p] * w[j * k + p];
                    s += t;
                    a += Math.abs(t);
                }
                out[i][j] = s;
                absSum[i][j] = a;
            }
        }
        return out;
    }

    /** Visible key count for the query at absolute position pos, straight from the Javadoc formula. */
    static long visible(long pos, long nk, long chunkTokens) {
        if (chunkTokens == 0) {
            return nk;
        }
        return Math.min(nk, (Math.floorDiv(pos, chunkTokens) + 1) * chunkTokens);
    }

    /**
     * Naive softmax attention. Returns out [nq][heads*hd]; tolScale[i][c] receives Σ_j p_ij |v_jc| and
     * maxDot[i*heads+h] receives max_j Σ_d |q k| · scale (score magnitude, for tolerances).
     */
    static double[][] attention(float[] q, float[] k, float[] v, int nq, int nk, int heads, int hd,
                                long queryOffset, long chunkTokens, double[][] tolScale, double[] maxDot) {
        int dim = heads * hd;
        double scale = 1.0 / Math.sqrt(hd);
        double[][] out = new double[nq][dim];
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < nq; i++) {
                int vis = (int) visible(queryOffset + i, nk, chunkTokens);
                double[] s = new double[vis];
                double mx = Double.NEGATIVE_INFINITY;
                double md = 0;
                for (int j = 0; j < vis; j++) {
                    double d = 0, a = 0;
                    for (int c = 0; c < hd; c++) {
                        double t = (double) q[i * dim + h * hd + c] * k[j * dim + h * hd + c];
                        d += t;
                        a += Math.abs(t);
                    }
                    s[j] = d * scale;
                    md = Math.max(md, a * scale);
                    mx = Math.max(mx, s[j]);
                }
                maxDot[i * heads + h] = md;
                double sum = 0;
                for (int j = 0; j < vis; j++) {
                    s[j] = Math.exp(s[j] - mx);
                    sum += s[j];
                }
                for (int c = 0; c < hd; c++) {
                    double o = 0, a = 0;
                    for (int j = 0; j < vis; j++) {
                        double p = s[j] / sum;
                        o += p * v[j * dim + h * hd + c];
                        a += p * Math.abs(v[j * dim + h * hd + c]);
                    }
                    out[i][h * hd + c] = o;
                    tolScale[i][h * hd + c] = a;
                }
            }
        }
        return out;
    }

    /** Wan's rope_params frequencies for one head dim, concatenated (frame, height, width), in double. */
    static double[] ropeFrequencies(int headDim) {
        int d6 = headDim / 6;
        int[] dims = {headDim - 4 * d6, 2 * d6, 2 * d6};
        double[] f = new double[headDim / 2];
        int at = 0;
        for (int dim : dims) {
            for (int i = 0; i < dim; i += 2) {
                f[at++] = 1.0 / Math.pow(10000.0, (double) i / dim);
            }
        }
        return f;
    }

    /** Wan's rope_apply with a start frame: complex multiply of each pair by e^{i·pos·freq}. */
    static double[] rope(float[] x, int heads, int hd, int frames, int height, int width, int frameOffset) {
        double[] freq = ropeFrequencies(hd);
        int c = hd / 2;
        int cH = c / 3;
        int cT = c - 2 * cH;
        double[] out = new double[x.length];
        int dim = heads * hd;
        for (int f = 0; f < frames; f++) {
            for (int h = 0; h < height; h++) {
                for (int w = 0; w < width; w++) {
                    int t = (f * height + h) * width + w;
                    for (int head = 0; head < heads; head++) {
                        for (int j = 0; j < c; j++) {
                            int pos = j < cT ? frameOffset + f : j < cT + cH ? h : w;
                            double ang = pos * freq[j];
                            double re = x[t * dim + head * hd + 2 * j];
                            double im = x[t * dim + head * hd + 2 * j + 1];
                            out[t * dim + head * hd + 2 * j] = re * Math.cos(ang) - im * Math.sin(ang);
                            out[t * dim + head * hd + 2 * j + 1] = re * Math.sin(ang) + im * Math.cos(ang);
                        }
                    }
                }
            }
        }
        return out;
    }

    static double[] layerNorm(float[] x, int rows, int cols, float[] w, float[] b, double eps) {
        double[] out = new double[x.length];
        for (int r = 0; r < rows; r++) {
            double mean = 0;
            for (int c = 0; c < cols; c++) {
                mean += x[r * cols + c];
            }
            mean /= cols;
            double var = 0;
            for (int c = 0; c < cols; c++) {
                double d = x[r * cols + c] - mean;
                var += d * d;
            }
            var /= cols;
            for (int c = 0; c < cols; c++) {
                double y = (x[r * cols + c] - mean) / Math.sqrt(var + eps);
                out[r * cols + c] = y * (w == null ? 1 : w[c]) + (b == null ? 0 : b[c]);
            }
        }
        return out;
    }

    static double[] rmsNorm(float[] x, int rows, int cols, float[] w, double eps) {
        double[] out = new double[x.length];
        for (int r = 0; r < rows; r++) {
            double ms = 0;
            for (int c = 0; c < cols; c++) {
                ms += (double) x[r * cols + c] * x[r * cols + c];
            }
            ms /= cols;
            for (int c = 0; c < cols; c++) {
                out[r * cols + c] = x[r * cols + c] / Math.sqrt(ms + eps) * (w == null ? 1 : w[c]);
            }
        }
        return out;
    }

    static double gelu(double x) {
        return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
    }

    static double silu(double x) {
        return x / (1 + Math.exp(-x));
    }

    /** latent [C,F,H,W] → [(F/pt)(H/ph)(W/pw), C·pt·ph·pw], the Conv3d patch layout (c, kt, kh, kw). */
    static float[] patchify(float[] lat, int C, int F, int H, int W, int pt, int ph, int pw) {
        int gf = F / pt, gh = H / ph, gw = W / pw;
        int feat = C * pt * ph * pw;
        float[] out = new float[gf * gh * gw * feat];
        for (int f = 0; f < gf; f++) for (int h = 0; h < gh; h++) for (int w = 0; w < gw; w++) {
            int t = (f * gh + h) * gw + w;
            for (int c = 0; c < C; c++) for (int a = 0; a < pt; a++) for (int b = 0; b < ph; b++) for (int e = 0; e < pw; e++) {
                int feature = ((c * pt + a) * ph + b) * pw + e;
                out[t * feat + feature] = lat[((c * F + f * pt + a) * H + h * ph + b) * W + w * pw + e];
            }
        }
        return out;
    }

    /** Wan's unpatchify: einsum 'fhwpqrc->cfphqwr'. */
    static float[] unpatchify(float[] tok, int C, int F, int H, int W, int pt, int ph, int pw) {
        int gf = F / pt, gh = H / ph, gw = W / pw;
        int feat = C * pt * ph * pw;
        float[] out = new float[C * F * H * W];
        for (int f = 0; f < gf; f++) for (int h = 0; h < gh; h++) for (int w = 0; w < gw; w++) {
            int t = (f * gh + h) * gw + w;
            for (int p = 0; p < pt; p++) for (int q = 0; q < ph; q++) for (int r = 0; r < pw; r++) for (int c = 0; c < C; c++) {
                int feature = ((p * ph + q) * pw + r) * C + c;
                out[((c * F + f * pt + p) * H + h * ph + q) * W + w * pw + r] = tok[t * feat + feature];
            }
        }
        return out;
    }
}
