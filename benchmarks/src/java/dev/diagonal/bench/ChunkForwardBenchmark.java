package dev.diagonal.bench;

import dev.diagonal.backend.cpu.CpuBackend;
import dev.diagonal.model.dit.Activations;
import dev.diagonal.model.dit.KvCache;
import dev.diagonal.model.dit.RandomParameters;
import dev.diagonal.model.dit.TextContext;
import dev.diagonal.model.dit.WanConfig;
import dev.diagonal.model.dit.WanDiT;
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
import java.util.concurrent.TimeUnit;

/**
 * One chunk forward of a small config (the tiny golden config, and a wider one), attending to a cache that
 * already holds {@code cachedChunks} earlier chunks: the unit of work the diagonal schedule counts.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class ChunkForwardBenchmark {
    /** tiny: dim 64, 2 blocks, 8x8 latents; small: dim 256, 4 blocks, 16x16 latents. */
    @Param({"tiny", "small"})
    public String config;

    @Param({"0", "6"})
    public int cachedChunks;

    private Arena arena;
    private CpuBackend backend;
    private WanDiT dit;
    private TextContext text;
    private KvCache cache;
    private Activations activations;
    private Tensor latent;
    private Tensor flow;
    private int size;
    private int frameOffset;

    @Setup(Level.Trial)
    public void setUp() {
        WanConfig c = config.equals("tiny") ? WanConfig.TINY
                : new WanConfig("small", 16, 16, 256, 1024, 64, 64, 16, 4, 4, 1, 2, 2, 1e-6f);
        size = config.equals("tiny") ? 8 : 16;
        arena = Arena.ofShared();
        backend = new CpuBackend(Runtime.getRuntime().availableProcessors());
        dit = WanDiT.load(c, RandomParameters.create(c, DType.F32, 1, arena), backend, arena);
        text = dit.encodeText(Tensor.allocate(arena, DType.F32, c.textLen(), c.textDim()), arena);
        int perFrame = (size / 2) * (size / 2);
        cache = new KvCache(backend, arena, c, perFrame, 3 * (cachedChunks + 1), 0);
        activations = dit.activations(arena, 3, size, size);
        latent = Tensor.allocate(arena, DType.F32, c.inDim(), 3, size, size);
        flow = Tensor.allocate(arena, DType.F32, c.outDim(), 3, size, size);
        for (int k = 0; k < cachedChunks; k++) {
            cache.beginChunk(3 * k, 3);
            dit.forward(latent, new double[]{500, 500, 500}, 3 * k, text, cache, activations, flow);
        }
        frameOffset = 3 * cachedChunks;
        cache.beginChunk(frameOffset, 3);
    }

    @Benchmark
    public Tensor chunkForward() {
        dit.forward(latent, new double[]{1000, 1000, 1000}, frameOffset, text, cache, activations, flow);
        return flow;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        backend.close();
        arena.close();
    }
}
