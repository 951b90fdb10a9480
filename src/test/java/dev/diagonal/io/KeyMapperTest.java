package dev.diagonal.io;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class KeyMapperTest {
    @Test
    void leadingWrapperRunsAreDropped() {
        assertEquals("blocks.0.ffn.0.weight", KeyMapper.normalize("model.blocks.0.ffn.0.weight"));
        assertEquals("blocks.0.x", KeyMapper.normalize("generator.module.model.blocks.0.x"));
        assertEquals("head.bias", KeyMapper.normalize("_orig_mod.module._fsdp_wrapped_module.head.bias"));
        assertEquals("a.b", KeyMapper.normalize("_checkpoint_wrapped_module.model.model.a.b"));
        assertEquals("a.b", KeyMapper.normalize("a.b"));
    }

    @Test
    void wrapperSegmentsMidKeyAreDropped() {
        assertEquals("blocks.0.ffn.0.weight", KeyMapper.normalize("blocks.0._fsdp_wrapped_module.ffn.0.weight"));
        assertEquals("blocks.0.attn.q.weight", KeyMapper.normalize(
                "model._fsdp_wrapped_module.blocks.0._fsdp_wrapped_module._checkpoint_wrapped_module.attn.q.weight"));
        assertEquals("enc.layer.w", KeyMapper.normalize("enc._orig_mod.layer.w"));
    }

    @Test
    void realSubmoduleNamesMidKeyAndPartialMatchesAreKept() {
        assertEquals("text.model.layers.0.w", KeyMapper.normalize("text.model.layers.0.w"));
        assertEquals("blocks.0.module.w", KeyMapper.normalize("blocks.0.module.w"));
        assertEquals("modelling.x", KeyMapper.normalize("modelling.x"));
        assertEquals("my_module.x", KeyMapper.normalize("my_module.x"));
        assertEquals("x._fsdp_wrapped_module_extra.y", KeyMapper.normalize("x._fsdp_wrapped_module_extra.y"));
    }

    @Test
    void theParameterNameIsNeverDropped() {
        assertEquals("model", KeyMapper.normalize("model"));
        assertEquals("module", KeyMapper.normalize("model.module"));
        assertEquals("_orig_mod", KeyMapper.normalize("a._orig_mod").substring(2));
        assertEquals("", KeyMapper.normalize(""));
        assertEquals("a..b", KeyMapper.normalize("model.a..b"));
    }

    @Test
    void normalizeAllMapsNamesToRawKeys() {
        assertEquals(Map.of("a.w", "model.a.w", "b.w", "b._fsdp_wrapped_module.w"),
                KeyMapper.normalizeAll(List.of("model.a.w", "b._fsdp_wrapped_module.w"), "f"));
    }

    @Test
    void collisionsAreReportedWithBothRawKeys() {
        WeightException e = assertThrows(WeightException.class,
                () -> KeyMapper.normalizeAll(List.of("model.a.w", "module.a.w"), "ckpt.safetensors"));
        assertEquals(WeightException.Reason.KEY_COLLISION, e.reason());
        assertTrue(e.getMessage().contains("model.a.w") && e.getMessage().contains("module.a.w")
                && e.getMessage().contains("'a.w'") && e.getMessage().contains("ckpt.safetensors"), e.getMessage());
    }
}
