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
 * One query chunk attending to a KV cache that ends with its own keys (queryOffset = keys - queries,
 * chunkTokens = queries, as the causal DiT calls it), as the cache grows.
 *
 * <p>Configs: "small" = 48 queries, 2 heads, head dim 32 (keys 48..480); "big" = 4680 queries, 12 heads,
 * head dim 128 (keys 4680, 9360). The big ones are SLOW on a 2-core CPU (4·nq·nk·dim flops: 0.13 and 0.27
 * TFLOP, on the order of a second or more per op), so leave them out unless wanted:
 * {@code -p kv=small:48,small:480}. Rate: GFLOP/s = 4·queries·keys·heads·headDim / (time in ns).
 *
 * <p>Quick check: {@code -p kv=small:480 -f 1 -wi 1 -i 1}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class AttentionBenchmark {

    /** config:keys — "small" is 48 queries, 2 heads x 32; "big" is 4680 queries, 12 heads x 128 (slow). */
    @Param({"small:48", "small:96", "small:240", "small:480", "big:4680", "big:9360"})
    public String kv;

    /** Total threads; 0 means all available processors. */
    @Param({"0"})
    public int threads;

    private Arena arena;
    private CpuBackend backend;
    private Tensor q;
    private Tensor k;
    private Tensor v;
    private Tensor out;
    private int heads;
    private int queries;
    private int keys;

    @Setup(Level.Trial)
    public void setUp() {
        String[] p = kv.split(":");
        boolean big = p[0].equals("big");
        keys = Integer.parseInt(p[1]);
        queries = big ? 4680 : 48;
        heads = big ? 12 : 2;
        int headDim = big ? 128 : 32;
        if (keys < queries) {
            throw new IllegalArgumentException(kv + ": the cache must hold at least the chunk's own " + queries + " keys");
        }
        arena = Arena.ofShared();
        backend = threads > 0 ? new CpuBackend(threads) : new CpuBackend();
        Random rnd = new Random(7);
        int dim = heads * headDim;
        q = random(rnd, queries, dim);
        k = random(rnd, keys, dim);
        v = random(rnd, keys, dim);
        out = backend.allocate(arena, DType.F32, queries, dim);
    }

    private Tensor random(Random rnd, long... shape) {
        Tensor t = backend.allocate(arena, DType.F32, shape);
        for (long i = 0; i < t.numel(); i++) {
            t.setFloat(i, (float) rnd.nextGaussian());
        }
        return t;
    }

    @Benchmark
    public Tensor attendToCache() {
        backend.attention(q, k, v, out, heads, keys - queries, queries);
        return out;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        backend.close();
        arena.close();
    }
}
