package dev.diagonal.cli;

import dev.diagonal.io.SafetensorsWriter;
import dev.diagonal.stream.Chunk;
import dev.diagonal.stream.ChunkStream;
import dev.diagonal.stream.SeededNoise;
import dev.diagonal.stream.StepObserver;
import dev.diagonal.stream.StreamSettings;
import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/** {@code diagonal generate-latents}: the DiT stream end to end, latents out as safetensors. */
final class GenerateLatentsCommand {
    static final Set<String> VALUED = union(ModelOptions.VALUED, StreamOptions.VALUED, TextOptions.VALUED, Set.of("out"));
    static final Set<String> SWITCHES = union(ModelOptions.SWITCHES, TextOptions.SWITCHES, Set.of("help"));

    private final PrintStream out;
    private final Path defaultModel;

    /** @param defaultModel the model directory used when no model flags are given (may be null) */
    GenerateLatentsCommand(PrintStream out, Path defaultModel) {
        this.out = out;
        this.defaultModel = defaultModel;
    }

    int run(String[] argv) throws IOException {
        Args a = new Args("generate-latents", argv, VALUED, SWITCHES);
        if (a.has("help")) {
            out.println("""
                    usage: diagonal generate-latents [flags]
                      --model DIR                 a model directory (model.json); default: the shipped weights/
                                                  when none of --config, --weights, --random-weights is given.
                                                  Its stream settings become the defaults below.
                      --config tiny|t2v-1.3b|t2v-14b  model config (default tiny, or the --family's)
                      --weights F[,F...]          checkpoint(s), mapped: safetensors or PyTorch .pt/.pth; or
                      --family NAME               self-forcing|causvid|longlive|diagonal|krea: the release's
                                                  config, state dict, schedule, context, chunking, window, sink
                      --lora F                    the family's LoRA adapter (.pt), merged into --weights
                      --random-weights            random weights (default when --weights is absent)
                      --weight-dtype f32|bf16|f16 dtype of random weights (default f32)
                      --prompt TEXT               the prompt, encoded in-process (see --text-encoder); or
                      --prompt-embedding F        safetensors with 'context' [textLen, textDim] (default: zeros)
                      --text-encoder F[,F...]     umT5 checkpoint (Wan's .pth or safetensors); random weights otherwise
                      --text-config umt5-xxl|tiny text encoder config (default: the one matching --config)
                      --tokenizer F|bytes         tokenizer.json (SentencePiece unigram) or bytes (default)
                      --prompt-cache DIR          where encoded prompts are kept (default ~/.cache/diagonal/prompts)
                      --no-prompt-cache           always run the text encoder
                      --seed N                    noise and random-weight seed (default 0)
                      --chunks N                  chunks to generate (default 7)
                      --chunk-frames N            latent frames per chunk (default 3)
                      --latent-height H --latent-width W   latent size (default 8x8 tiny, 60x104 t2v-1.3b)
                      --schedule S                diagonal-4-3-2 (default), diagonal-5-4-3-2, uniform-4, or lists
                                                  like 1000,933,357;1000,357
                      --context reuse|reencode[:T] context rule (default reuse; reencode = clean, T=0)
                      --window F --sink F         KV cache window and sink, in latent frames (default: whole video)
                      --threads N                 CPU threads (default: all cores)
                      --device cpu|cuda[:N]       where the models run (default cpu); cuda runs them on GPU N
                                                  (default 0) and needs an NVIDIA driver and cuBLAS
                      --out F                     output file (default latents.safetensors)""");
            return 0;
        }
        ModelOptions model = ModelOptions.parse(a, defaultModel);
        StreamSettings settings = StreamOptions.parse(a, model);
        Path outPath = Path.of(a.string("out", "latents.safetensors"));

        try (LoadedModel m = LoadedModel.open(model, a, out)) {
            out.println("stream: " + settings.describe());

            Tensor latents = Tensor.allocate(m.arena(), DType.F32, model.config().outDim(), settings.totalFrames(),
                    settings.latentHeight(), settings.latentWidth());
            StreamReport report = new StreamReport(out, settings.chunks());
            try (ChunkStream stream = new ChunkStream(m.dit(), m.text(), settings, new SeededNoise(model.seed()), StepObserver.NONE)) {
                stream.drainTo(chunk -> {
                    copyFrames(chunk, latents);
                    report.chunk(chunk);
                });
            }
            report.summary();
            writeLatents(outPath, model, settings, report.evaluations(), latents);
            out.println("wrote " + outPath + " latents " + latents);
        }
        return 0;
    }

    /** Writes a stream's latents [C, T, H, W] as safetensors, with how they were made as metadata. */
    static void writeLatents(Path outPath, ModelOptions model, StreamSettings settings, int evaluations, Tensor latents)
            throws IOException {
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("config", model.config().name());
        meta.put("schedule", settings.schedule().toString());
        meta.put("context", settings.contextRule().toString());
        meta.put("seed", Long.toString(model.seed()));
        meta.put("network_evaluations", Integer.toString(evaluations));
        SafetensorsWriter.write(outPath, Map.of("latents", latents), meta);
    }

    /** The chunk's latents [C, F, H, W] go to frames firstFrame.. of the whole video's [C, T, H, W]. */
    static void copyFrames(Chunk chunk, Tensor video) {
        Tensor src = chunk.latents();
        long channels = src.dim(0);
        long frameElems = src.dim(2) * src.dim(3);
        long chunkElems = src.dim(1) * frameElems;
        long videoElems = video.dim(1) * frameElems;
        for (long c = 0; c < channels; c++) {
            java.lang.foreign.MemorySegment.copy(src.data(), c * chunkElems * Float.BYTES, video.data(),
                    (c * videoElems + chunk.firstFrame() * frameElems) * Float.BYTES, chunkElems * Float.BYTES);
        }
    }

    @SafeVarargs
    static Set<String> union(Set<String>... sets) {
        return Stream.of(sets).flatMap(Set::stream).collect(Collectors.toUnmodifiableSet());
    }
}
