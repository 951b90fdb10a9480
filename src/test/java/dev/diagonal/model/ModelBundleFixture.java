package dev.diagonal.model;

import dev.diagonal.io.SafetensorsWriter;
import dev.diagonal.model.dit.RandomParameters;
import dev.diagonal.model.dit.WanConfig;
import dev.diagonal.model.dit.WanKeys;
import dev.diagonal.model.t5.T5Config;
import dev.diagonal.model.t5.T5Keys;
import dev.diagonal.model.vae.TinyDecoderConfig;
import dev.diagonal.model.vae.TinyDecoderKeys;
import dev.diagonal.model.vae.VaeConfig;
import dev.diagonal.model.vae.VaeKeys;
import dev.diagonal.tensor.DType;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** A small model directory with random weights (the tiny configs), as tools/train/export.py lays one out. */
public final class ModelBundleFixture {
    private ModelBundleFixture() {
    }

    public static final String JSON = """
            {
              "name": "fixture",
              "dit": {"file": "dit.safetensors", "config": {"in_dim": 16, "out_dim": 16, "dim": 64, "ffn_dim": 160,
                "freq_dim": 32, "text_dim": 32, "text_len": 8, "num_heads": 2, "num_layers": 2, "patch": [1, 2, 2],
                "eps": 1e-06}},
              "vae": {"file": "vae.safetensors", "config": {"z_dim": 16, "dim": 4, "dim_mult": [1, 2, 4, 4],
                "num_res_blocks": 2, "temporal_upsample": [true, true, false],
                "latent_mean": [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.5],
                "latent_std": [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2]}},
              "tiny_decoder": {"file": "tiny_decoder.safetensors", "config": {"widths": [8, 6, 4, 4],
                "blocks": [1, 1, 0, 0], "temporal_upsample": [true, true, false]}},
              "text": {"file": "t5.safetensors", "tokenizer": "bytes", "config": {"vocab": 300, "dim": 32,
                "dim_attn": 32, "dim_ffn": 48, "num_heads": 4, "num_layers": 2, "num_buckets": 32, "max_distance": 128,
                "text_len": 160, "eps": 1e-06}},
              "stream": {"latent_height": 4, "latent_width": 4, "chunk_frames": 3, "chunks": 2, "window": 6, "sink": 0,
                "schedule": "diagonal-4-3-2", "context": "reuse", "fps": 12}
            }
            """;

    /** The evaluation set export.py writes next to model.json (two held-out prompts and one training pair here). */
    public static final String EVAL_JSON = """
            {"palette": {"red": [0.9, 0.12, 0.1], "blue": [0.15, 0.35, 0.95]},
             "backgrounds": {"black": [0.02, 0.02, 0.02], "gray": [0.4, 0.4, 0.4]},
             "prompts": [{"caption": "a red circle moving left on a black background", "colour": "red",
                          "shape": "circle", "direction": "left", "background": "black"},
                         {"caption": "a blue square moving up on a gray background", "colour": "blue",
                          "shape": "square", "direction": "up", "background": "gray"}],
             "seen": [{"caption": "a blue circle moving down on a black background", "colour": "blue",
                       "shape": "circle", "direction": "down"}]}
            """;

    /** The tiny decoder model.json describes (latent statistics aside). */
    public static final TinyDecoderConfig TINY_DECODER = TinyDecoderConfig.imitating(VaeConfig.TINY, List.of(8, 6, 4, 4),
            List.of(1, 1, 0, 0), List.of(true, true, false));

    /** Writes the directory (model.json, eval.json and four checkpoints) and returns it. */
    public static Path write(Path dir) throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve(ModelBundle.FILE), JSON);
        Files.writeString(dir.resolve("eval.json"), EVAL_JSON);
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsWriter.write(dir.resolve("dit.safetensors"),
                    RandomParameters.create(WanKeys.of(WanConfig.TINY), DType.F32, 1, 0.125, arena).tensors());
            SafetensorsWriter.write(dir.resolve("vae.safetensors"),
                    RandomParameters.create(VaeKeys.of(VaeConfig.TINY), DType.F32, 2, 0, arena).tensors());
            SafetensorsWriter.write(dir.resolve("tiny_decoder.safetensors"),
                    RandomParameters.create(TinyDecoderKeys.of(TINY_DECODER), DType.F32, 4, 0, arena).tensors());
            SafetensorsWriter.write(dir.resolve("t5.safetensors"),
                    RandomParameters.create(T5Keys.of(T5Config.TINY), DType.F32, 3, 0, arena).tensors());
        }
        return dir;
    }
}
