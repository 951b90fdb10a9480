package dev.diagonal.backend.cuda;

import dev.diagonal.backend.cpu.CpuBackend;
import dev.diagonal.io.SafetensorsFile;
import dev.diagonal.io.Weights;
import dev.diagonal.model.dit.Activations;
import dev.diagonal.model.dit.KvCache;
import dev.diagonal.model.dit.ParameterSource;
import dev.diagonal.model.dit.TextContext;
import dev.diagonal.model.dit.WanConfig;
import dev.diagonal.model.dit.WanDiT;
import dev.diagonal.model.t5.T5Config;
import dev.diagonal.model.t5.T5Encoder;
import dev.diagonal.model.vae.TinyDecoder;
import dev.diagonal.model.vae.TinyDecoderConfig;
import dev.diagonal.model.vae.VaeConfig;
import dev.diagonal.model.vae.WanVaeDecoder;
import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;
import dev.diagonal.testing.Goldens;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Every CUDA op against the CPU backend (the reference) on the same random inputs, and one DiT forward pass.
 * Needs an NVIDIA GPU with the kernels' PTX built; skipped when {@link CudaBackend#open} finds no GPU.
 *
 * <p>Tolerances are relative to the expected tensor's largest magnitude (as {@link Goldens} compares):
 * layout ops and copies are exact; pointwise and schedule ops 1e-6 (the kernels follow the CPU's rounding,
 * leaving only fp32 ulps); norms and rope 1e-5 (block reductions sum in another order); linear with F32
 * weights and conv3d 1e-5 (fp32 accumulation in another order); linear with BF16/F16 weights and attention
 * 1e-2 (the GPU rounds activations, or q, k, v, to 16 bits; a wrong index or mask is off by O(1)). The
 * models (DiT, VAE decoder, text encoder; tiny goldens) are held to 2e-2 and 1e-2 of the scale against the
 * PyTorch reference: their attention is bf16 on the GPU.
 */
@Tag("gpu")
class CudaBackendTest {
    private static final double EXACT = 0;
    private static final double POINTWISE = 1e-6;
    private static final double REDUCTION = 1e-5;
    private static final double HALF = 1e-2;

    private static CudaBackend gpu;
    private static CpuBackend cpu;

    private Arena arena;
    private final Random rnd = new Random(20261201);

    @BeforeAll
    static void open() {
        try {
            gpu = CudaBackend.open(0);
        } catch (CudaUnavailableException e) {
            assumeTrue(false, "no usable GPU: " + e.getMessage());
        }
        cpu = new CpuBackend(2);
        System.out.println(gpu.describe());
    }

    @AfterAll
    static void close() {
        if (gpu != null) {
            gpu.close();
        }
        if (cpu != null) {
            cpu.close();
        }
    }

    @BeforeEach
    void newArena() {
        arena = Arena.ofShared();
    }

    @AfterEach
    void closeArena() {
        // Device memory goes back while the backend is still open.
        gpu.synchronize();
        arena.close();
    }

    // --- memory and copies ---

    @Test
    void copiesRoundTripExactlyInEveryDirection() {
        Tensor h = host(1000, 10, 100);
        Tensor d = dev(h);
        Tensor d2 = gpu.allocate(arena, DType.F32, 10, 100);
        gpu.copy(d, d2);
        assertClose("host -> device -> device -> host", h, back(d2), EXACT);
        Tensor bf = Tensor.allocate(arena, DType.BF16, 7, 9);
        for (int i = 0; i < 63; i++) {
            bf.setFloat(i, (float) rnd.nextGaussian());
        }
        assertClose("bf16 round trip", bf, back(dev(bf)), EXACT);
    }

    @Test
    void allocationIsZeroedAndOutOfMemorySaysHowMuch() {
        Tensor z = gpu.allocate(arena, DType.F32, 1 << 20);
        float[] v = back(z).toFloatArray();
        for (float f : v) {
            assertEquals(0f, f);
        }
        assertEquals(0, gpu.allocate(arena, DType.F32, 0, 5).byteSize());
        long huge = 1L << 50;
        CudaOutOfMemoryException e = assertThrows(CudaOutOfMemoryException.class,
                () -> gpu.allocate(arena, DType.U8, huge));
        assertTrue(e.getMessage().contains(huge + " bytes") && e.getMessage().contains("GiB free of"), e.getMessage());
    }

    @Test
    void copyRowsMatchesTheCpuIncludingOverlappingShifts() {
        int[][] cases = {{4, 1, 7}, {1, 4, 7}, {0, 8, 4}, {3, 3, 5}, {10, 0, 2}};
        for (int[] c : cases) {
            Tensor h = host(12 * 33, 12, 33);
            Tensor d = dev(h);
            cpu.copyRows(h, c[0], h, c[1], c[2]);
            gpu.copyRows(d, c[0], d, c[1], c[2]);
            assertClose("copyRows " + c[0] + " -> " + c[1] + " x" + c[2], h, back(d), EXACT);
        }
        Tensor src = host(5 * 8, 5, 8);
        Tensor dst = Tensor.allocate(arena, DType.F32, 9, 8);
        Tensor d = gpu.allocate(arena, DType.F32, 9, 8);
        cpu.copyRows(src, 1, dst, 3, 4);
        gpu.copyRows(dev(src), 1, d, 3, 4);
        assertClose("copyRows between tensors", dst, back(d), EXACT);
    }

    // --- pointwise, schedule ---

    @Test
    void pointwiseOpsMatchTheCpu() {
        long[] shape = {6 * 50, 130};
        int n = 6 * 50 * 130;
        Tensor x = host(n, shape);
        Tensor y = host(n, shape);
        checkInPlace("add", x, t -> cpu.add(t, y), t -> gpu.add(t, dev(y)));
        checkInPlace("mul", x, t -> cpu.mul(t, y), t -> gpu.mul(t, dev(y)));
        checkInPlace("geluTanh", x, cpu::geluTanh, gpu::geluTanh);
        checkInPlace("silu", x, cpu::silu, gpu::silu);
        Tensor row = host(130, 130);
        checkInPlace("addRow", x, t -> cpu.addRow(t, row), t -> gpu.addRow(t, dev(row)));
        Tensor gate = host(6 * 130, 6, 130);
        checkInPlace("gatedAdd", x, t -> cpu.gatedAdd(t, y, gate, 50), t -> gpu.gatedAdd(t, dev(y), dev(gate), 50));
        Tensor shift = host(6 * 130, 6, 130);
        Tensor scale = host(6 * 130, 6, 130);
        Tensor want = Tensor.allocate(arena, DType.F32, shape);
        cpu.modulate(x, shift, scale, 50, want);
        Tensor out = gpu.allocate(arena, DType.F32, shape);
        gpu.modulate(dev(x), dev(shift), dev(scale), 50, out);
        assertClose("modulate", want, back(out), POINTWISE);
        checkInPlace("modulate in place", x, t -> cpu.modulate(t, shift, scale, 50, t),
                t -> gpu.modulate(t, dev(shift), dev(scale), 50, t));
    }

    @Test
    void scheduleOpsMatchTheCpu() {
        int n = 16 * 3 * 60 * 104;
        Tensor xt = host(n, n);
        Tensor v = host(n, n);
        Tensor noise = host(n, n);
        float sigma = 0.9375f;
        float next = 0.6f;
        Tensor x0 = Tensor.allocate(arena, DType.F32, n);
        cpu.flowToX0(xt, v, sigma, x0);
        Tensor dx0 = gpu.allocate(arena, DType.F32, n);
        gpu.flowToX0(dev(xt), dev(v), sigma, dx0);
        assertClose("flowToX0", x0, back(dx0), POINTWISE);
        Tensor noised = Tensor.allocate(arena, DType.F32, n);
        cpu.addNoise(x0, noise, next, noised);
        Tensor dNoised = gpu.allocate(arena, DType.F32, n);
        gpu.addNoise(dev(x0), dev(noise), next, dNoised);
        assertClose("addNoise", noised, back(dNoised), POINTWISE);
        // flowStep is flowToX0 then addNoise in one pass, here writing next over xt.
        Tensor dxt = dev(xt);
        Tensor stepX0 = gpu.allocate(arena, DType.F32, n);
        gpu.flowStep(dxt, dev(v), dev(noise), sigma, next, stepX0, dxt);
        assertClose("flowStep x0", x0, back(stepX0), POINTWISE);
        assertClose("flowStep next", noised, back(dxt), POINTWISE);
    }

    // --- norms, rope ---

    @Test
    void normsMatchTheCpu() {
        for (int cols : new int[] {1536, 37, 5120}) {
            int rows = 29;
            Tensor x = host(rows * cols, rows, cols);
            for (int i = 0; i < cols; i++) {
                x.setFloat(i, x.getFloat(i) * 40 + 100); // a row with a large mean tests the two-pass variance
            }
            Tensor w = host(cols, cols);
            Tensor b = host(cols, cols);
            Tensor want = Tensor.allocate(arena, DType.F32, rows, cols);
            Tensor out = gpu.allocate(arena, DType.F32, rows, cols);
            cpu.layerNorm(x, w, b, 1e-6f, want);
            gpu.layerNorm(dev(x), dev(w), dev(b), 1e-6f, out);
            assertClose("layerNorm " + cols, want, back(out), REDUCTION);
            cpu.layerNorm(x, null, null, 1e-6f, want);
            gpu.layerNorm(dev(x), null, null, 1e-6f, out);
            assertClose("layerNorm without affine " + cols, want, back(out), REDUCTION);
            cpu.rmsNorm(x, w, 1e-6f, want);
            gpu.rmsNorm(dev(x), dev(w), 1e-6f, out);
            assertClose("rmsNorm " + cols, want, back(out), REDUCTION);
            cpu.rmsNorm(x, null, 1e-6f, want);
            gpu.rmsNorm(dev(x), null, 1e-6f, out);
            assertClose("rmsNorm without weight " + cols, want, back(out), REDUCTION);
        }
    }

    @Test
    void fusedLayerNormModulateIsLayerNormThenModulate() {
        int frames = 3;
        int perFrame = 20;
        int cols = 1536;
        Tensor x = host(frames * perFrame * cols, frames * perFrame, cols);
        Tensor shift = host(frames * cols, frames, cols);
        Tensor scale = host(frames * cols, frames, cols);
        Tensor want = Tensor.allocate(arena, DType.F32, x.shape());
        cpu.layerNorm(x, null, null, 1e-6f, want);
        cpu.modulate(want, shift, scale, perFrame, want);
        Tensor d = dev(x);
        gpu.layerNormModulate(d, 1e-6f, dev(shift), dev(scale), perFrame, d);
        assertClose("layerNormModulate in place", want, back(d), REDUCTION);
    }

    @Test
    void rope3dMatchesTheCpu() {
        for (int[] g : new int[][] {{12, 128, 3, 6, 8, 5}, {2, 16, 2, 4, 5, 0}, {1, 6, 1, 3, 2, 7}}) {
            int heads = g[0], headDim = g[1], frames = g[2], height = g[3], width = g[4], offset = g[5];
            int c = headDim / 2;
            int positions = 16;
            float[] table = new float[positions * c * 2];
            for (int i = 0; i < positions * c; i++) {
                double angle = rnd.nextDouble() * 2 * Math.PI;
                table[2 * i] = (float) Math.cos(angle);
                table[2 * i + 1] = (float) Math.sin(angle);
            }
            Tensor t = Tensor.ofFloats(arena, table, positions, c, 2);
            int tokens = frames * height * width;
            Tensor x = host(tokens * heads * headDim, tokens, (long) heads * headDim);
            Tensor d = dev(x);
            Tensor dt = dev(t);
            cpu.rope3d(x, heads, frames, height, width, offset, t);
            gpu.rope3d(d, heads, frames, height, width, offset, dt);
            assertClose("rope3d heads " + heads + " x " + headDim, x, back(d), REDUCTION);
        }
    }

    // --- linear ---

    @Test
    void linearMatchesTheCpuForEachWeightDtype() {
        int[][] shapes = {{37, 96, 50}, {64, 1536, 1536}, {1, 16, 8960}, {130, 8960, 64}};
        for (DType dtype : List.of(DType.F32, DType.BF16, DType.F16)) {
            for (int[] s : shapes) {
                int n = s[0], k = s[1], m = s[2];
                Tensor x = host(n * k, n, k);
                Tensor w = Tensor.allocate(arena, dtype, m, k);
                for (long i = 0; i < (long) m * k; i++) {
                    w.setFloat(i, (float) (rnd.nextGaussian() / Math.sqrt(k)));
                }
                Tensor bias = host(m, m);
                Tensor want = Tensor.allocate(arena, DType.F32, n, m);
                Tensor out = gpu.allocate(arena, DType.F32, n, m);
                double tol = dtype == DType.F32 ? REDUCTION : HALF;
                cpu.linear(x, w, bias, want);
                gpu.linear(dev(x), dev(w), dev(bias), out);
                assertClose("linear " + dtype + " " + n + "x" + k + "x" + m, want, back(out), tol);
                cpu.linear(x, w, null, want);
                gpu.linear(dev(x), dev(w), null, out);
                assertClose("linear " + dtype + " without bias", want, back(out), tol);
            }
        }
    }

    // --- attention ---

    @Test
    void attentionMatchesTheCpuAcrossMasksAndHeadDims() {
        // {nq, nk, heads, headDim, queryOffset, chunkTokens}
        long[][] cases = {
                {3 * 64, 3 * 64, 2, 128, 0, 64},  // a whole sequence of three chunks under the chunk-causal mask
                {130, 390, 12, 128, 260, 0},      // the 1.3B head dim: a chunk against a cache holding its past
                {100, 300, 4, 128, 200, 100},     // the mask with the cache
                {48, 48, 3, 64, 0, 16},
                {33, 97, 2, 32, 64, 0},           // tails of a query tile and of a key tile
                {20, 52, 3, 16, 32, 0},
                {24, 72, 2, 8, 48, 24},
                {1, 1, 1, 16, 0, 0},
        };
        for (long[] c : cases) {
            int nq = (int) c[0], nk = (int) c[1], heads = (int) c[2], headDim = (int) c[3];
            int dim = heads * headDim;
            Tensor q = host(nq * dim, nq, dim);
            Tensor k = host(nk * dim, nk, dim);
            Tensor v = host(nk * dim, nk, dim);
            Tensor want = Tensor.allocate(arena, DType.F32, nq, dim);
            Tensor out = gpu.allocate(arena, DType.F32, nq, dim);
            cpu.attention(q, k, v, want, heads, c[4], c[5]);
            gpu.attention(dev(q), dev(k), dev(v), out, heads, c[4], c[5]);
            assertClose("attention " + java.util.Arrays.toString(c), want, back(out), HALF);
        }
    }

    @Test
    void biasedAttentionMatchesTheCpu() {
        int heads = 4, headDim = 64, nq = 27, nk = 27;
        int dim = heads * headDim;
        Tensor q = host(nq * dim, nq, dim);
        Tensor k = host(nk * dim, nk, dim);
        Tensor v = host(nk * dim, nk, dim);
        Tensor bias = host(heads * nq * nk, heads, nq, nk);
        for (int i = 0; i < heads * nq * nk; i += 5) {
            bias.setFloat(i, Float.NEGATIVE_INFINITY); // masked keys, as T5's padding
        }
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < nq; i++) {
                bias.setFloat(((long) h * nq + i) * nk + i, 0.5f); // every query keeps one key
            }
        }
        Tensor want = Tensor.allocate(arena, DType.F32, nq, dim);
        Tensor out = gpu.allocate(arena, DType.F32, nq, dim);
        cpu.biasedAttention(q, k, v, bias, heads, 1f, want);
        gpu.biasedAttention(dev(q), dev(k), dev(v), dev(bias), heads, 1f, out);
        assertClose("biasedAttention", want, back(out), HALF);
    }

    // --- layout, conv ---

    @Test
    void layoutOpsMatchTheCpuExactly() {
        Tensor latent = host(16 * 6 * 8 * 10, 16, 6, 8, 10);
        for (int[] p : new int[][] {{1, 2, 2}, {2, 2, 1}, {1, 1, 1}}) {
            long tokens = (6 / p[0]) * (8 / p[1]) * (10 / p[2]);
            long feat = 16L * p[0] * p[1] * p[2];
            Tensor want = Tensor.allocate(arena, DType.F32, tokens, feat);
            Tensor out = gpu.allocate(arena, DType.F32, tokens, feat);
            cpu.patchify(latent, p[0], p[1], p[2], want);
            gpu.patchify(dev(latent), p[0], p[1], p[2], out);
            assertClose("patchify " + java.util.Arrays.toString(p), want, back(out), EXACT);
            Tensor tok = host((int) (tokens * feat), tokens, feat);
            Tensor wantLatent = Tensor.allocate(arena, DType.F32, 16, 6, 8, 10);
            Tensor outLatent = gpu.allocate(arena, DType.F32, 16, 6, 8, 10);
            cpu.unpatchify(tok, p[0], p[1], p[2], wantLatent);
            gpu.unpatchify(dev(tok), p[0], p[1], p[2], outLatent);
            assertClose("unpatchify " + java.util.Arrays.toString(p), wantLatent, back(outLatent), EXACT);
        }
        Tensor frames = host(3 * 5 * 7 * 12, 3, 5, 7, 12);
        Tensor want = Tensor.allocate(arena, DType.F32, 3, 10, 14, 12);
        Tensor out = gpu.allocate(arena, DType.F32, 3, 10, 14, 12);
        cpu.upsampleNearest2x(frames, want);
        gpu.upsampleNearest2x(dev(frames), out);
        assertClose("upsampleNearest2x", want, back(out), EXACT);
    }

    @Test
    void conv3dMatchesTheCpuForEachWeightDtype() {
        // {tin, h, w, cin, cout, kt, kh, kw}
        int[][] cases = {{4, 6, 7, 8, 5, 3, 3, 3}, {2, 9, 10, 96, 130, 1, 3, 3}, {3, 4, 4, 12, 70, 1, 1, 1},
                {5, 3, 17, 3, 64, 2, 1, 5}};
        for (DType dtype : List.of(DType.F32, DType.BF16, DType.F16)) {
            for (int[] c : cases) {
                int tin = c[0], h = c[1], wd = c[2], cin = c[3], cout = c[4], kt = c[5], kh = c[6], kw = c[7];
                Tensor x = host(tin * h * wd * cin, tin, h, wd, cin);
                Tensor w = Tensor.allocate(arena, dtype, cout, kt, kh, kw, cin);
                for (long i = 0; i < w.numel(); i++) {
                    w.setFloat(i, (float) (rnd.nextGaussian() / Math.sqrt((double) kt * kh * kw * cin)));
                }
                Tensor bias = host(cout, cout);
                int tout = tin - kt + 1;
                Tensor want = Tensor.allocate(arena, DType.F32, tout, h, wd, cout);
                Tensor out = gpu.allocate(arena, DType.F32, tout, h, wd, cout);
                cpu.conv3d(x, w, bias, want);
                gpu.conv3d(dev(x), dev(w), dev(bias), out);
                assertClose("conv3d " + dtype + " " + java.util.Arrays.toString(c), want, back(out), REDUCTION);
                cpu.conv3d(x, w, null, want);
                gpu.conv3d(dev(x), dev(w), null, out);
                assertClose("conv3d " + dtype + " without bias", want, back(out), REDUCTION);
            }
        }
    }

    // --- contract details ---

    @Test
    void argumentsAreCheckedLikeTheCpuBackend() {
        Tensor h = host(8, 2, 4);
        Tensor d = dev(h);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> gpu.add(d, h));
        assertTrue(e.getMessage().startsWith("add: y is not a CUDA tensor"), e.getMessage());
        Tensor bf = gpu.allocate(arena, DType.BF16, 4);
        e = assertThrows(IllegalArgumentException.class, () -> gpu.addRow(d, bf));
        assertTrue(e.getMessage().contains("row must be F32"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> gpu.linear(d, gpu.allocate(arena, DType.F32, 3, 5), null,
                gpu.allocate(arena, DType.F32, 2, 3)));
        assertTrue(e.getMessage().contains("has k = 4"), e.getMessage());
    }

    @Test
    void anyThreadMayUseTheBackendOneAtATime() throws Exception {
        Tensor x = host(1000, 1000);
        Tensor y = host(1000, 1000);
        Tensor d = dev(x);
        Tensor dy = dev(y);
        CompletableFuture.runAsync(() -> gpu.add(d, dy)).get();
        cpu.add(x, y);
        assertClose("add from another thread", x, back(d), POINTWISE);
        assertTrue(gpu.timeMillis(() -> gpu.add(d, dy)) >= 0);
    }

    // --- the whole model ---

    @Test
    void ditForwardMatchesTheCpuAndTheReference() throws Exception {
        try (SafetensorsFile g = Goldens.open("forward.safetensors");
             Weights weights = Weights.open(List.of(Goldens.open("tiny_weights.safetensors").path()))) {
            float[][] flows = new float[2][];
            for (int run = 0; run < 2; run++) {
                dev.diagonal.backend.Backend be = run == 0 ? cpu : gpu;
                WanDiT dit = WanDiT.load(WanConfig.TINY, ParameterSource.of(weights), be, arena);
                TextContext text = dit.encodeText(g.tensor("context"), arena);
                KvCache cache = new KvCache(be, arena, WanConfig.TINY, 16, 6, 0);
                Activations a = dit.activations(arena, 3, 8, 8);
                Tensor flow = be.allocate(arena, DType.F32, 16, 3, 8, 8);
                cache.beginChunk(0, 3);
                dit.forward(onto(be, g.tensor("latent")), timesteps(g.tensor("timesteps")), 0, text, cache, a, flow);
                if (be == gpu) {
                    Tensor first = Tensor.allocate(arena, DType.F32, 16, 3, 8, 8);
                    gpu.copy(flow, first);
                    Goldens.assertClose("flow, CUDA against PyTorch", g.tensor("flow"), first, 2e-2);
                }
                // The second chunk attends to the first through the cache: the KV cache's copyRows and the
                // unmasked attention against it.
                cache.beginChunk(3, 3);
                dit.forward(onto(be, g.tensor("latent2")), timesteps(g.tensor("timesteps2")), 3, text, cache, a, flow);
                Tensor host = Tensor.allocate(arena, DType.F32, 16, 3, 8, 8);
                be.copy(flow, host);
                flows[run] = host.toFloatArray();
            }
            Tensor cpuFlow = Tensor.ofFloats(arena, flows[0], 16, 3, 8, 8);
            Tensor gpuFlow = Tensor.ofFloats(arena, flows[1], 16, 3, 8, 8);
            // Two blocks of bf16 attention and fp32 everything else: 2e-2 of the scale, where a wrong op is O(1).
            Goldens.assertClose("flow2, CUDA against CPU", cpuFlow, gpuFlow, 2e-2);
            Goldens.assertClose("flow2, CUDA against PyTorch", g.tensor("flow2"), gpuFlow, 2e-2);
        }
    }

    @Test
    void vaeDecodeMatchesTheReference() throws Exception {
        try (SafetensorsFile g = Goldens.open("vae_tiny_golden.safetensors");
             Weights weights = Weights.open(List.of(Goldens.open("vae_tiny_weights.safetensors").path()))) {
            VaeConfig config = VaeConfig.TINY.withLatentStats(floats(g.tensor("mean")), floats(g.tensor("std")));
            WanVaeDecoder decoder = WanVaeDecoder.load(config, ParameterSource.of(weights), gpu, arena);
            // Causal convs, norms, upsampling and the mid attention on the GPU; the video comes back to the host.
            Tensor video = decoder.newStream(arena).decode(g.tensor("z"), arena);
            Goldens.assertClose("VAE video, CUDA against PyTorch", g.tensor("video"), video, HALF);
        }
    }

    @Test
    void tinyDecodeMatchesTheReference() throws Exception {
        try (SafetensorsFile g = Goldens.open("tiny_decoder_golden.safetensors");
             Weights weights = Weights.open(List.of(Goldens.open("tiny_decoder_weights.safetensors").path()))) {
            TinyDecoderConfig config = TinyDecoderConfig.TINY.withLatentStats(floats(g.tensor("mean")),
                    floats(g.tensor("std")));
            TinyDecoder decoder = TinyDecoder.load(config, ParameterSource.of(weights), gpu, arena);
            // 2D and 2-frame convs, SiLU, upsampling and time growth on the GPU; the video comes back to the host.
            Tensor video = decoder.newStream(arena).decode(g.tensor("z"), arena);
            Goldens.assertClose("tiny decoder video, CUDA against PyTorch", g.tensor("video"), video, HALF);
        }
    }

    @Test
    void textEncoderMatchesTheReference() throws Exception {
        try (SafetensorsFile g = Goldens.open("t5_tiny_golden.safetensors");
             Weights weights = Weights.open(List.of(Goldens.open("t5_tiny_weights.safetensors").path()))) {
            T5Encoder encoder = T5Encoder.load(T5Config.TINY, ParameterSource.of(weights), gpu, arena);
            for (String c : new String[] {"short", "long"}) {
                Tensor context = encoder.encode(realIds(g.tensor("ids_" + c)), arena);
                Tensor host = context.device() == dev.diagonal.tensor.Device.CPU ? context : back(context);
                Goldens.assertClose("T5 context_" + c + ", CUDA against PyTorch", g.tensor("context_" + c), host, HALF);
            }
        }
    }

    private static List<Float> floats(Tensor t) {
        List<Float> out = new java.util.ArrayList<>();
        for (float v : t.toFloatArray()) {
            out.add(v);
        }
        return out;
    }

    /** The token ids before the first padding 0 (safetensors I32, little-endian). */
    private static int[] realIds(Tensor padded) {
        int n = 0;
        int[] all = new int[(int) padded.numel()];
        for (int i = 0; i < all.length; i++) {
            all[i] = padded.data().getAtIndex(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED
                    .withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), i);
        }
        while (n < all.length && all[n] != 0) {
            n++;
        }
        return java.util.Arrays.copyOf(all, n);
    }

    private Tensor onto(dev.diagonal.backend.Backend be, Tensor t) {
        Tensor f = Tensor.allocate(arena, DType.F32, t.shape());
        f.copyFrom(t);
        if (be == cpu) {
            return f;
        }
        return dev(f);
    }

    private static double[] timesteps(Tensor t) {
        float[] f = t.toFloatArray();
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }

    // --- helpers ---

    private interface Op {
        void apply(Tensor t);
    }

    /** Runs an in-place op on a copy of x on each backend and compares; x itself is left as it was. */
    private void checkInPlace(String what, Tensor x, Op onCpu, Op onGpu) {
        Tensor want = Tensor.allocate(arena, DType.F32, x.shape());
        want.copyFrom(x);
        onCpu.apply(want);
        Tensor d = dev(x);
        onGpu.apply(d);
        assertClose(what, want, back(d), POINTWISE);
    }

    private Tensor host(int n, long... shape) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) rnd.nextGaussian();
        }
        return Tensor.ofFloats(arena, v, shape);
    }

    private Tensor dev(Tensor host) {
        Tensor d = gpu.allocate(arena, host.dtype(), host.shape());
        gpu.copy(host, d);
        return d;
    }

    private Tensor back(Tensor device) {
        Tensor h = Tensor.allocate(arena, device.dtype(), device.shape());
        gpu.copy(device, h);
        return h;
    }

    /** max |actual - expected| <= rel · max |expected| (rel 0: bit-equal values), and no NaN where none is expected. */
    private static void assertClose(String what, Tensor expected, Tensor actual, double rel) {
        assertArrayEquals(expected.shape(), actual.shape(), what + ": shape");
        float[] e = expected.toFloatArray();
        float[] a = actual.toFloatArray();
        double scale = 0;
        for (float v : e) {
            if (Float.isFinite(v)) {
                scale = Math.max(scale, Math.abs(v));
            }
        }
        double tol = rel * scale;
        for (int i = 0; i < e.length; i++) {
            boolean same = Float.compare(e[i], a[i]) == 0 || e[i] == a[i];
            double d = Math.abs((double) a[i] - e[i]);
            if (!same && !(d <= tol)) {
                fail(what + ": element " + i + " is " + a[i] + ", expected " + e[i] + " (|diff| " + d + " > "
                        + tol + " = " + rel + " x scale " + scale + ")");
            }
        }
    }
}
