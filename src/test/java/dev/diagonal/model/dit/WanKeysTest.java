package dev.diagonal.model.dit;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Checkpoint names are API: this pins them. */
class WanKeysTest {

    @Test
    void pinsTheNamesOfOneBlockAndTheEmbeddings() {
        Map<String, long[]> keys = WanKeys.of(WanConfig.TINY);
        List<String> expected = List.of(
                "patch_embedding.weight", "patch_embedding.bias",
                "text_embedding.0.weight", "text_embedding.0.bias", "text_embedding.2.weight", "text_embedding.2.bias",
                "time_embedding.0.weight", "time_embedding.0.bias", "time_embedding.2.weight", "time_embedding.2.bias",
                "time_projection.1.weight", "time_projection.1.bias",
                "blocks.0.modulation",
                "blocks.0.self_attn.q.weight", "blocks.0.self_attn.q.bias", "blocks.0.self_attn.k.weight",
                "blocks.0.self_attn.k.bias", "blocks.0.self_attn.v.weight", "blocks.0.self_attn.v.bias",
                "blocks.0.self_attn.o.weight", "blocks.0.self_attn.o.bias",
                "blocks.0.self_attn.norm_q.weight", "blocks.0.self_attn.norm_k.weight",
                "blocks.0.cross_attn.q.weight", "blocks.0.cross_attn.q.bias", "blocks.0.cross_attn.k.weight",
                "blocks.0.cross_attn.k.bias", "blocks.0.cross_attn.v.weight", "blocks.0.cross_attn.v.bias",
                "blocks.0.cross_attn.o.weight", "blocks.0.cross_attn.o.bias",
                "blocks.0.cross_attn.norm_q.weight", "blocks.0.cross_attn.norm_k.weight",
                "blocks.0.norm3.weight", "blocks.0.norm3.bias",
                "blocks.0.ffn.0.weight", "blocks.0.ffn.0.bias", "blocks.0.ffn.2.weight", "blocks.0.ffn.2.bias");
        assertEquals(expected, keys.keySet().stream().limit(expected.size()).toList());
        assertEquals(12 + 27 * 2 + 3, keys.size());
        assertEquals("head.modulation", keys.keySet().stream().reduce((a, b) -> b).orElseThrow());
    }

    @Test
    void realConfigShapesMatchWan13B() {
        Map<String, long[]> keys = WanKeys.of(WanConfig.T2V_1_3B);
        assertEquals(12 + 27 * 30 + 3, keys.size());
        assertArrayEquals(new long[]{1536, 16, 1, 2, 2}, keys.get("patch_embedding.weight"));
        assertArrayEquals(new long[]{1536, 4096}, keys.get("text_embedding.0.weight"));
        assertArrayEquals(new long[]{1536, 256}, keys.get("time_embedding.0.weight"));
        assertArrayEquals(new long[]{9216, 1536}, keys.get("time_projection.1.weight"));
        assertArrayEquals(new long[]{8960, 1536}, keys.get("blocks.29.ffn.0.weight"));
        assertArrayEquals(new long[]{1, 6, 1536}, keys.get("blocks.29.modulation"));
        assertArrayEquals(new long[]{64, 1536}, keys.get("head.head.weight"));
        // Wan2.1-T2V-1.3B has 1.42 billion parameters in its DiT.
        assertEquals(1_418_996_800L, WanKeys.parameterCount(WanConfig.T2V_1_3B));
    }

    @Test
    void configValidationNamesTheProblem() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new WanConfig("bad", 16, 16, 100, 160, 32, 32, 8, 3, 2, 1, 2, 2, 1e-6f));
        assertEquals(true, e.getMessage().contains("numHeads"));
        assertThrows(IllegalArgumentException.class,
                () -> new WanConfig("bad", 16, 16, 64, 160, 32, 32, 8, 2, 0, 1, 2, 2, 1e-6f));
        assertThrows(IllegalArgumentException.class, () -> WanConfig.preset("14b"));
    }
}
