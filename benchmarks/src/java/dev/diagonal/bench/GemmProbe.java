package dev.diagonal.bench;

import dev.diagonal.backend.cpu.CpuBackend;
import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;

import java.lang.foreign.Arena;
import java.util.Random;

/**
 * Quick GFLOP/s probe for the DiT's big linear shapes (n x k x m), f32 and bf16 weights: a couple of warm-up
 * calls, then the best of a few timed ones. GFLOP/s = 2·n·k·m / seconds / 1e9.
 *
 * <p>Args: [threads] [reps] [shape ...] with shapes like 4680x1536x1536.
 */
public final class GemmProbe {
    private GemmProbe() {
    }

    public static void main(String[] args) {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : Runtime.getRuntime().availableProcessors();
        int reps = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        String[] shapes = args.length > 2 ? java.util.Arrays.copyOfRange(args, 2, args.length)
                : new String[] {"4680x1536x1536", "4680x1536x8960", "4680x8960x1536"};
        try (CpuBackend be = new CpuBackend(threads); Arena arena = Arena.ofShared()) {
            System.out.println(be.describe());
            Random rnd = new Random(1);
            for (String s : shapes) {
                String[] p = s.split("x");
                int n = Integer.parseInt(p[0]), k = Integer.parseInt(p[1]), m = Integer.parseInt(p[2]);
                Tensor x = be.allocate(arena, DType.F32, n, k);
                fill(x, rnd);
                Tensor out = be.allocate(arena, DType.F32, n, m);
                Tensor bias = be.allocate(arena, DType.F32, m);
                for (DType wt : new DType[] {DType.F32, DType.BF16}) {
                    Tensor w = be.allocate(arena, wt, m, k);
                    fill(w, rnd);
                    be.linear(x, w, bias, out); // warm-up (JIT, page faults)
                    double best = Double.MAX_VALUE;
                    for (int r = 0; r < reps; r++) {
                        long t0 = System.nanoTime();
                        be.linear(x, w, bias, out);
                        best = Math.min(best, (System.nanoTime() - t0) / 1e9);
                    }
                    double gflops = 2.0 * n * k * m / best / 1e9;
                    System.out.printf("%-16s w=%-4s best %8.1f ms  %6.1f GFLOP/s  spot-check max rel err %.1e%n",
                            s, wt, best * 1e3, gflops, spotCheck(x, w, out, rnd));
                }
            }
        }
    }

    /** Max over a few random outputs of |got - want| / Σ|x·w|, want computed in double: speed means nothing if wrong. */
    private static double spotCheck(Tensor x, Tensor w, Tensor out, Random rnd) {
        int n = (int) x.dim(0), k = (int) x.dim(1), m = (int) w.dim(0);
        double worst = 0;
        for (int t = 0; t < 20; t++) {
            int i = rnd.nextInt(n), j = rnd.nextInt(m);
            double want = 0, abs = 0;
            for (int p = 0; p < k; p++) {
                double v = (double) x.getFloat((long) i * k + p) * w.getFloat((long) j * k + p);
                want += v;
                abs += Math.abs(v);
            }
            worst = Math.max(worst, Math.abs(out.getFloat((long) i * m + j) - want) / abs);
        }
        return worst;
    }

    private static void fill(Tensor t, Random rnd) {
        long n = t.numel();
        for (long i = 0; i < n; i++) {
            t.setFloat(i, (float) (rnd.nextGaussian() * 0.1));
        }
    }
}
