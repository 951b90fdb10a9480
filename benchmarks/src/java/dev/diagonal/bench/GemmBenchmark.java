package dev.diagonal.bench;

import dev.diagonal.backend.cpu.CpuBackend;
import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.Arena;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * CpuBackend.linear on the DiT's shapes (n x k x m: tokens x in x out), f32 and bf16 weights, reported as
 * time per op. GFLOP/s = 2·n·k·m / (time in ns) — e.g. 4680x1536x1536 at 55 ms is 2·4680·1536·1536 /
 * 55e6 ns ≈ 402 GFLOP/s. The big shapes take 50 ms to 0.6 s per op on 2 cores; run them alone.
 *
 * <p>Quick check: {@code -p shape=144x64x64 -f 1 -wi 1 -i 1}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class GemmBenchmark {

    @Param({"4680x1536x1536", "4680x1536x8960", "144x64x64", "144x64x160"})
    public String shape;

    @Param({"F32", "BF16"})
    public String weights;

    /** Total threads; 0 means all available processors. */
    @Param({"0"})
    public int threads;

    private Arena arena;
    private CpuBackend backend;
    private Tensor x;
    private Tensor w;
    private Tensor bias;
    private Tensor out;

    @Setup(Level.Trial)
    public void setUp() {
        String[] p = shape.split("x");
        int n = Integer.parseInt(p[0]), k = Integer.parseInt(p[1]), m = Integer.parseInt(p[2]);
        arena = Arena.ofShared();
        backend = threads > 0 ? new CpuBackend(threads) : new CpuBackend();
        Random rnd = new Random(42);
        x = random(DType.F32, rnd, n, k);
        w = random(DType.valueOf(weights), rnd, m, k);
        bias = random(DType.F32, rnd, m);
        out = backend.allocate(arena, DType.F32, n, m);
    }

    private Tensor random(DType dtype, Random rnd, long... shape) {
        Tensor t = backend.allocate(arena, dtype, shape);
        for (long i = 0; i < t.numel(); i++) {
            t.setFloat(i, (float) rnd.nextGaussian() * 0.1f);
        }
        return t;
    }

    @Benchmark
    public Tensor linear() {
        backend.linear(x, w, bias, out);
        return out;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        backend.close();
        arena.close();
    }
}
