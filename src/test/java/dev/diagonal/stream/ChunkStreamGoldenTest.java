package dev.diagonal.stream;

import dev.diagonal.backend.cpu.CpuBackend;
import dev.diagonal.io.SafetensorsFile;
import dev.diagonal.io.Weights;
import dev.diagonal.model.dit.ParameterSource;
import dev.diagonal.model.dit.TextContext;
import dev.diagonal.model.dit.WanConfig;
import dev.diagonal.model.dit.WanDiT;
import dev.diagonal.schedule.ContextRule;
import dev.diagonal.schedule.DiagonalSchedule;
import dev.diagonal.tensor.Tensor;
import dev.diagonal.testing.Goldens;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.Arena;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Whole streams against the PyTorch reference: every step's x0 and the final latents, for Self-Forcing's
 * uniform schedule with a clean re-encode, the diagonal schedule with noisy reuse and with re-encoding at
 * t = 100, and a local window with an attention sink.
 */
class ChunkStreamGoldenTest {

    @ParameterizedTest
    @CsvSource({
            "loop_uniform_reencode0.safetensors,       uniform-4,      reencode,     3, 0, 0, 14",
            "loop_diagonal_reuse.safetensors,          diagonal-4-3-2, reuse,        3, 0, 0, 9",
            "loop_diagonal_reencode100.safetensors,    diagonal-4-3-2, reencode:100, 3, 0, 0, 11",
            "loop_diagonal_reuse_window.safetensors,   diagonal-4-3-2, reuse,        5, 9, 3, 13",
    })
    void streamMatchesReference(String file, String schedule, String context, int chunks, int window, int sink,
                                int expectedEvaluations) throws Exception {
        try (SafetensorsFile g = Goldens.open(file);
             Weights weights = Weights.open(List.of(Goldens.open("tiny_weights.safetensors").path()));
             CpuBackend backend = new CpuBackend(2);
             Arena arena = Arena.ofConfined()) {
            WanDiT dit = WanDiT.load(WanConfig.TINY, ParameterSource.of(weights), backend, arena);
            TextContext text = dit.encodeText(g.tensor("context"), arena);
            StreamSettings settings = new StreamSettings(chunks, 3, 8, 8, DiagonalSchedule.parse(schedule),
                    ContextRule.parse(context), window, sink);
            AtomicInteger steps = new AtomicInteger();
            StepObserver checkStep = (chunk, step, t, x0) -> {
                Goldens.assertClose("x0.c" + chunk + ".s" + step, g.tensor("x0.c" + chunk + ".s" + step), x0, Goldens.REL);
                steps.incrementAndGet();
            };
            Tensor expected = g.tensor("latents");
            int evaluations = 0;
            try (ChunkStream stream = new ChunkStream(dit, text, settings, new RecordedNoise(g::tensor), checkStep)) {
                while (stream.hasNext()) {
                    Chunk c = stream.next();
                    evaluations += c.evaluations();
                    Goldens.assertClose("latents of chunk " + c.index(), framesOf(expected, c.firstFrame(), c.frames(), arena),
                            c.latents(), Goldens.REL);
                }
            }
            assertEquals(expectedEvaluations, evaluations, "network evaluations");
            assertEquals(settings.schedule().denoisingEvaluations(chunks), steps.get(), "observed steps");
        }
    }

    // frames [first, first+count) of a [C, T, H, W] tensor, as a new [C, count, H, W] tensor.
    static Tensor framesOf(Tensor video, int first, int count, Arena arena) {
        long c = video.dim(0), t = video.dim(1), hw = video.dim(2) * video.dim(3);
        Tensor out = Tensor.allocate(arena, dev.diagonal.tensor.DType.F32, c, count, video.dim(2), video.dim(3));
        for (long ch = 0; ch < c; ch++) {
            for (long i = 0; i < count * hw; i++) {
                out.setFloat(ch * count * hw + i, video.getFloat(ch * t * hw + first * hw + i));
            }
        }
        return out;
    }
}
