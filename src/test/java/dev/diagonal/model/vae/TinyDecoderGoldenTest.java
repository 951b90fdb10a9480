package dev.diagonal.model.vae;

import dev.diagonal.backend.cpu.CpuBackend;
import dev.diagonal.io.SafetensorsFile;
import dev.diagonal.io.Weights;
import dev.diagonal.model.dit.ParameterSource;
import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;
import dev.diagonal.testing.Goldens;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The tiny decoder against tools/reference/tiny_decoder.py (whole-video pass, float64; written by
 * make_tiny_decoder_goldens.py), and chunked decoding against one call (bit-identical: the same frames go
 * through the same ops, the memory blocks carrying their last frame between calls).
 */
class TinyDecoderGoldenTest {

    @Test
    void decodeMatchesReferenceWholeVideo() throws Exception {
        try (Fixture f = Fixture.open(); Arena arena = Arena.ofShared()) {
            Tensor video = f.decoder.newStream(arena).decode(f.z, arena);
            assertArrayEquals(new long[] {3, 9, 16, 16}, video.shape());
            Goldens.assertClose("video", f.golden.tensor("video"), video, Goldens.REL);
        }
    }

    @Test
    void chunkedDecodingEqualsOneCall() throws Exception {
        try (Fixture f = Fixture.open(); Arena arena = Arena.ofShared()) {
            float[] whole = f.decoder.newStream(arena).decode(f.z, arena).toFloatArray();
            for (int[] split : new int[][] {{1, 1, 1, 1, 1}, {1, 3, 1}, {3, 2}, {2, 3}}) {
                DecodeStream stream = f.decoder.newStream(arena);
                List<float[]> parts = new ArrayList<>();
                int at = 0;
                for (int n : split) {
                    assertEquals(at == 0 ? 1 + 2L * (n - 1) : 2L * n, stream.videoFramesFor(n));
                    parts.add(stream.decode(LatentFrames.slice(f.z, at, n, arena), arena).toFloatArray());
                    at += n;
                }
                assertArrayEquals(whole, LatentFrames.concat(parts, 9, 16 * 16), "split " + Arrays.toString(split));
            }
        }
    }

    @Test
    void keyContractMatchesTheCheckpoint() throws Exception {
        try (Fixture f = Fixture.open()) {
            assertEquals(TinyDecoderKeys.of(TinyDecoderConfig.TINY).keySet(), f.weights.names());
            assertEquals(3705, TinyDecoderKeys.parameterCount(TinyDecoderConfig.TINY));
        }
        // TAEHV's decoder shape for Wan2.1's latents: 8x in space, 4x in time, as the VAE it stands in for.
        TinyDecoderConfig wan = TinyDecoderConfig.defaultFor(VaeConfig.WAN_2_1);
        assertEquals(List.of(256, 128, 64, 64), wan.widths());
        assertEquals(VaeConfig.WAN_2_1.format(), wan.format());
    }

    @Test
    void rejectsWrongLatentsWeightsAndConfigs() throws Exception {
        try (Fixture f = Fixture.open(); Arena arena = Arena.ofShared()) {
            DecodeStream stream = f.decoder.newStream(arena);
            Tensor wrongChannels = Tensor.allocate(arena, DType.F32, 8, 1, 4, 4);
            assertTrue(assertThrows(IllegalArgumentException.class, () -> stream.decode(wrongChannels, arena))
                    .getMessage().contains("[4, F, h, w]"));
            TinyDecoderConfig wider = new TinyDecoderConfig("wider", 4, List.of(8, 5, 3), List.of(2, 1, 1),
                    List.of(true, false), f.config.latentMean(), f.config.latentStd());
            assertThrows(RuntimeException.class, () -> TinyDecoder.load(wider, ParameterSource.of(f.weights), f.backend, arena));
        }
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new TinyDecoderConfig("bad", 4, List.of(6, 5),
                List.of(1, 1), List.of(true, false), List.of(0f, 0f, 0f, 0f), List.of(1f, 1f, 1f, 1f)))
                .getMessage().contains("a temporal flag per upsample"));
        assertThrows(IllegalArgumentException.class, () -> TinyDecoderConfig.defaultFor(new VaeConfig("three", 4, 4,
                List.of(1, 2, 4), 1, List.of(true, false), List.of(0f, 0f, 0f, 0f), List.of(1f, 1f, 1f, 1f))));
    }

    private record Fixture(SafetensorsFile golden, Weights weights, CpuBackend backend, Arena arena,
                           TinyDecoderConfig config, TinyDecoder decoder, Tensor z) implements AutoCloseable {
        static Fixture open() throws Exception {
            SafetensorsFile golden = Goldens.open("tiny_decoder_golden.safetensors");
            Weights weights = Weights.open(List.of(Goldens.open("tiny_decoder_weights.safetensors").path()));
            CpuBackend backend = new CpuBackend(2);
            Arena arena = Arena.ofShared();
            TinyDecoderConfig config = TinyDecoderConfig.TINY.withLatentStats(floats(golden.tensor("mean")),
                    floats(golden.tensor("std")));
            TinyDecoder decoder = TinyDecoder.load(config, ParameterSource.of(weights), backend, arena);
            return new Fixture(golden, weights, backend, arena, config, decoder, golden.tensor("z"));
        }

        private static List<Float> floats(Tensor t) {
            List<Float> out = new ArrayList<>();
            for (float v : t.toFloatArray()) {
                out.add(v);
            }
            return out;
        }

        @Override
        public void close() throws Exception {
            arena.close();
            backend.close();
            weights.close();
            golden.close();
        }
    }
}
