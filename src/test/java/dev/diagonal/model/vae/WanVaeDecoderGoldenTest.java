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
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The decoder against tools/reference/wan_vae.py (whole-sequence pass, float64), and chunked decoding
 * against one-call decoding (must be bit-identical: the same frames go through the same ops).
 */
class WanVaeDecoderGoldenTest {

    @Test
    void decodeMatchesReferenceWholeSequence() throws Exception {
        try (Fixture f = Fixture.open(); Arena arena = Arena.ofShared()) {
            Tensor video = f.decoder.newStream(arena).decode(f.z, arena);
            assertArrayEquals(new long[] {3, 17, 32, 32}, video.shape());
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
                    assertEquals(at == 0 ? 1 + 4L * (n - 1) : 4L * n, stream.videoFramesFor(n));
                    parts.add(stream.decode(LatentFrames.slice(f.z, at, n, arena), arena).toFloatArray());
                    at += n;
                }
                assertArrayEquals(whole, LatentFrames.concat(parts, 17, 32 * 32), "split " + java.util.Arrays.toString(split));
            }
        }
    }

    @Test
    void rejectsWrongLatentsAndMissingWeights() throws Exception {
        try (Fixture f = Fixture.open(); Arena arena = Arena.ofShared()) {
            DecodeStream stream = f.decoder.newStream(arena);
            Tensor wrongChannels = Tensor.allocate(arena, DType.F32, 8, 1, 4, 4);
            assertTrue(assertThrows(IllegalArgumentException.class, () -> stream.decode(wrongChannels, arena))
                    .getMessage().contains("[16, F, h, w]"));
            stream.decode(LatentFrames.slice(f.z, 0, 1, arena), arena);
            Tensor otherSize = Tensor.allocate(arena, DType.F32, 16, 1, 2, 2);
            assertTrue(assertThrows(IllegalArgumentException.class, () -> stream.decode(otherSize, arena))
                    .getMessage().contains("started at 4x4"));
            // the tiny checkpoint is not a Wan2.1-sized decoder: strict shapes refuse it
            assertThrows(RuntimeException.class,
                    () -> WanVaeDecoder.load(VaeConfig.WAN_2_1, ParameterSource.of(f.weights), f.backend, arena));
        }
    }

    @Test
    void keyContractMatchesTheCheckpointAndWansSize() throws Exception {
        try (Fixture f = Fixture.open()) {
            assertEquals(VaeKeys.of(f.config).keySet(), f.weights.names());
        }
        // Wan2.1's decoder side (conv2 + decoder), as tools/reference/wan_vae.py counts it.
        assertEquals(73_295_603L, VaeKeys.parameterCount(VaeConfig.WAN_2_1));
        assertEquals(81, VaeConfig.WAN_2_1.videoFrames(21));
        assertEquals(8, VaeConfig.WAN_2_1.spatialScale());
    }

    private record Fixture(SafetensorsFile golden, Weights weights, CpuBackend backend, Arena arena, VaeConfig config,
                           WanVaeDecoder decoder, Tensor z) implements AutoCloseable {
        static Fixture open() throws Exception {
            SafetensorsFile golden = Goldens.open("vae_tiny_golden.safetensors");
            Weights weights = Weights.open(List.of(Goldens.open("vae_tiny_weights.safetensors").path()));
            CpuBackend backend = new CpuBackend(2);
            Arena arena = Arena.ofShared();
            VaeConfig config = VaeConfig.TINY.withLatentStats(floats(golden.tensor("mean")), floats(golden.tensor("std")));
            WanVaeDecoder decoder = WanVaeDecoder.load(config, ParameterSource.of(weights), backend, arena);
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
