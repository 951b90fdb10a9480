package dev.diagonal.model;

import dev.diagonal.io.SafetensorsFile;
import dev.diagonal.io.WeightException;
import dev.diagonal.io.Weights;
import dev.diagonal.model.dit.ParameterSource;
import dev.diagonal.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** LongLive's base and LoRA (torch.save fixtures) merged as peft merges them, against PyTorch's merge. */
class LoraMergeTest {
    private static Path fixture(String name) throws URISyntaxException {
        return Path.of(LoraMergeTest.class.getResource("/dev/diagonal/io/torch/" + name).toURI());
    }

    @Test
    void mergedWeightsMatchTorchWithinOneBf16Step() throws Exception {
        try (Weights base = Weights.open(List.of(fixture("longlive_base.pt")), List.of("generator"));
             Weights adapter = Weights.open(List.of(fixture("longlive_lora.pt")), List.of("generator_lora"));
             SafetensorsFile expected = SafetensorsFile.open(fixture("longlive_merged.expected.safetensors"));
             Arena arena = Arena.ofConfined()) {
            int rank = Integer.parseInt(expected.metadata().get("rank"));
            double alpha = Double.parseDouble(expected.metadata().get("alpha"));
            ParameterSource merged = LoraMerge.merge(ParameterSource.of(base), adapter, rank, alpha / rank, arena);
            int exact = 0;
            int total = 0;
            for (String name : expected.names()) {
                Tensor want = expected.tensor(name);
                Tensor got = merged.get(name, want.shape());
                assertEquals(want.dtype(), got.dtype());
                for (long i = 0; i < want.numel(); i++) {
                    short w = want.data().getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i);
                    short g = got.data().getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i);
                    // torch's matmul may sum in another order; after rounding to bf16 that is at most one step.
                    assertTrue(Math.abs(w - g) <= 1, name + "[" + i + "]: " + w + " vs " + g);
                    exact += w == g ? 1 : 0;
                    total++;
                }
            }
            assertTrue(exact >= total * 9 / 10, exact + " of " + total + " bit-exact");
            // A weight without a LoRA pair is the base's own view, not a copy.
            Tensor plain = merged.get("patch_embedding.weight", new long[]{4, 4, 1, 2, 2});
            assertEquals(base.get("patch_embedding.weight", 4, 4, 1, 2, 2).data().address(), plain.data().address());
        }
    }

    @Test
    void anAdapterOfAnotherRankIsRefusedByModule() throws Exception {
        try (Weights base = Weights.open(List.of(fixture("longlive_base.pt")), List.of());
             Weights adapter = Weights.open(List.of(fixture("longlive_lora.pt")), List.of("generator_lora"));
             Arena arena = Arena.ofConfined()) {
            WeightException e = assertThrows(WeightException.class,
                    () -> LoraMerge.merge(ParameterSource.of(base), adapter, 256, 1.0, arena));
            assertTrue(e.getMessage().contains("blocks.0."), e.getMessage());
        }
    }

    @Test
    void anAdapterForModulesTheBaseLacksIsRefused() throws Exception {
        try (Weights causvid = Weights.open(List.of(fixture("wan_vae.pth")), List.of());
             Weights adapter = Weights.open(List.of(fixture("longlive_lora.pt")), List.of("generator_lora"));
             Arena arena = Arena.ofConfined()) {
            assertThrows(WeightException.class, () -> LoraMerge.merge(ParameterSource.of(causvid), adapter, 2, 2.0, arena));
        }
    }

}
