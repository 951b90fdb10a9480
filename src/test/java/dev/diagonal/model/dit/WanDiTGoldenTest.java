package dev.diagonal.model.dit;

import dev.diagonal.backend.cpu.CpuBackend;
import dev.diagonal.io.SafetensorsFile;
import dev.diagonal.io.Weights;
import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;
import dev.diagonal.testing.Goldens;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiConsumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The DiT forward against the PyTorch reference, intermediate by intermediate (tools/reference). */
class WanDiTGoldenTest {

    @Test
    void chunkForwardMatchesReferenceBlockByBlock() throws Exception {
        try (SafetensorsFile g = Goldens.open("forward.safetensors");
             Weights weights = Weights.open(List.of(Goldens.open("tiny_weights.safetensors").path()));
             CpuBackend backend = new CpuBackend(2);
             Arena arena = Arena.ofConfined()) {
            WanDiT dit = WanDiT.load(WanConfig.TINY, ParameterSource.of(weights), backend, arena);
            List<String> checked = new ArrayList<>();
            BiConsumer<String, Tensor> compare = (name, actual) -> {
                if (g.has(name)) {
                    Goldens.assertClose(name, g.tensor(name), actual, Goldens.REL);
                    checked.add(name);
                }
            };
            TextContext text = dit.encodeText(g.tensor("context"), arena, compare::accept);
            KvCache cache = new KvCache(backend, arena, WanConfig.TINY, 16, 6, 0);
            Activations a = dit.activations(arena, 3, 8, 8);
            Tensor flow = Tensor.allocate(arena, DType.F32, 16, 3, 8, 8);

            cache.beginChunk(0, 3);
            dit.forward(f32(g.tensor("latent"), arena), timesteps(g.tensor("timesteps")), 0, text, cache, a, flow,
                    compare::accept);
            Goldens.assertClose("flow", g.tensor("flow"), flow, Goldens.REL);

            // The second chunk attends to the first through the cache.
            cache.beginChunk(3, 3);
            dit.forward(f32(g.tensor("latent2"), arena), timesteps(g.tensor("timesteps2")), 3, text, cache, a, flow);
            Goldens.assertClose("flow2", g.tensor("flow2"), flow, Goldens.REL);

            assertTrue(checked.containsAll(List.of("text_embedding.out", "time_embedding.out", "time_projection.out",
                    "patch_embedding.out", "blocks.0.out", "blocks.1.out", "head.out")), "compared: " + checked);
        }
    }

    @Test
    void strictLoadingRejectsUnknownParameters() throws Exception {
        try (Arena arena = Arena.ofConfined(); CpuBackend backend = new CpuBackend(1)) {
            RandomParameters p = RandomParameters.create(WanConfig.TINY, DType.F32, 0, arena);
            java.util.Map<String, Tensor> extra = new java.util.LinkedHashMap<>(p.tensors());
            extra.put("img_emb.proj.0.weight", p.tensors().get("head.head.bias"));
            ParameterSource withExtra = new ParameterSource() {
                public Tensor get(String name, long[] shape) {
                    return p.get(name, shape);
                }

                public java.util.Set<String> names() {
                    return extra.keySet();
                }
            };
            IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> WanDiT.load(WanConfig.TINY, withExtra, backend, arena));
            assertTrue(e.getMessage().contains("img_emb.proj.0.weight"), e.getMessage());
        }
    }

    static Tensor f32(Tensor t, Arena arena) {
        Tensor out = Tensor.allocate(arena, DType.F32, t.shape());
        out.copyFrom(t);
        return out;
    }

    static double[] timesteps(Tensor t) {
        float[] f = t.toFloatArray();
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        assertEquals(3, d.length);
        return d;
    }
}
