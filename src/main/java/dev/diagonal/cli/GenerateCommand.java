package dev.diagonal.cli;

import dev.diagonal.backend.Backend;
import dev.diagonal.backend.cpu.CpuBackend;
import dev.diagonal.io.Weights;
import dev.diagonal.model.vae.LatentDecoder;
import dev.diagonal.model.vae.LatentFormat;
import dev.diagonal.stream.StreamSettings;
import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;
import dev.diagonal.video.FrameSink;
import dev.diagonal.video.VideoSinks;
import dev.diagonal.video.VideoSpec;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.Set;

/**
 * {@code diagonal generate}: the DiT stream and the VAE decoder end to end. Each chunk is decoded and its
 * frames written the moment the DiT finishes it, so the video file grows while the stream runs (and "-"
 * plays live through a pipe); for a small DiT on the CPU the decoder does that on a thread of its own while
 * the DiT denoises the next chunk ({@link DecoderThread}).
 */
final class GenerateCommand {
    static final Set<String> VALUED = GenerateLatentsCommand.union(ModelOptions.VALUED, StreamOptions.VALUED,
            VaeOptions.VALUED, TextOptions.VALUED, Set.of("out", "fps", "ffmpeg", "latents", "warmup",
            "decode-threads"));
    static final Set<String> SWITCHES = GenerateLatentsCommand.union(ModelOptions.SWITCHES, TextOptions.SWITCHES,
            Set.of("help", "latents-only"));

    private final PrintStream out;
    private final PrintStream err;
    private final Path defaultModel;

    /** @param defaultModel the model directory used when no model flags are given (may be null) */
    GenerateCommand(PrintStream out, PrintStream err, Path defaultModel) {
        this.out = out;
        this.err = err;
        this.defaultModel = defaultModel;
    }

    int run(String[] argv) throws IOException {
        Args a = new Args("generate", argv, VALUED, SWITCHES);
        if (a.has("help")) {
            out.println("""
                    usage: diagonal generate ["prompt"] [flags]
                      --out F                 video.y4m (default), clip.mp4 (needs ffmpeg), a directory for PNG
                                              frames, or - for Y4M on stdout (e.g. | ffplay -); with
                                              --latents-only a .safetensors file (default latents.safetensors)
                      --latents F             also write the latents as safetensors
                      --latents-only          skip the VAE, write latents only
                      --vae F                 VAE checkpoint (Wan2.1_VAE converted to safetensors; encoder keys
                                              are ignored); random weights otherwise
                      --vae-config tiny|wan2.1  default: tiny for the tiny DiT, wan2.1 for t2v-1.3b
                      --decoder vae|tiny      the VAE decoder (default), or the tiny decoder trained to imitate
                                              it, several times faster (the model directory's; random weights
                                              in TAEHV's shape for a --config without one)
                      --fps N                 frames per second of the video (default 16)
                      --decode-threads N      CPU threads (of --threads) that decode on a thread of their own
                                              while the DiT denoises the next chunk; 0 decodes between chunks
                                              on the DiT's threads (default: half for a small DiT on the CPU,
                                              0 for a large one or a GPU)
                      --warmup N              tiny streams run first so the JIT has compiled the kernels and
                                              the real stream keeps its pace from the first frame (default 3
                                              for a small DiT, 0 for a large one, where it would cost more)
                      --ffmpeg PATH           ffmpeg for .mp4 (default: the one on PATH)
                    and every generate-latents flag (--config, --weights, --schedule, --context, --chunks,
                    --seed, --prompt, --text-encoder, --tokenizer, ...): see 'diagonal generate-latents --help'.""");
            return 0;
        }
        ModelOptions model = ModelOptions.parse(a, defaultModel);
        StreamSettings settings = StreamOptions.parse(a, model);
        boolean latentsOnly = a.has("latents-only");
        String outName = a.string("out", latentsOnly ? "latents.safetensors" : "video.y4m");
        VaeOptions vae = latentsOnly ? null : VaeOptions.parse(a, model);
        int fps = a.integer("fps", model.bundle() != null ? model.bundle().stream().fps() : 16, 1, 240);
        int warmUps = a.integer("warmup", -1, 0, 100);
        int decodeThreads = latentsOnly ? 0 : decodeThreads(a, model);
        Path latentsPath = latentsOnly ? Path.of(outName) : a.has("latents") ? Path.of(a.string("latents", "")) : null;
        if (!latentsOnly) {
            VideoSinks.formatOf(outName); // a bad name fails now, before minutes of work
        }
        // With the video on stdout, everything else goes to stderr.
        PrintStream log = outName.equals("-") ? err : out;

        try (LoadedModel m = LoadedModel.open(model.withThreads(model.threads() - decodeThreads), a, log);
             Backend decodeBackend = decodeThreads > 0 ? new CpuBackend(decodeThreads) : null;
             Arena arena = Arena.ofShared()) {
            Weights vaeWeights = vae == null ? null : vae.open(log);
            try (vaeWeights) {
                LatentDecoder decoder = vae == null ? null
                        : vae.load(vaeWeights, decodeBackend != null ? decodeBackend : m.backend(), arena);
                if (decodeBackend != null) {
                    log.println("decoding: on a thread of its own while the DiT works, backend " + decodeBackend.describe());
                }
                Tensor latents = latentsPath == null ? null : Tensor.allocate(arena, DType.F32, model.config().outDim(),
                        settings.totalFrames(), settings.latentHeight(), settings.latentWidth());
                log.println("stream: " + settings.describe());
                WarmUp.run(m.dit(), m.text(), decoder, settings, warmUps, log);
                StreamReport report = new StreamReport(log, settings.chunks());
                if (decoder == null) {
                    Decoding.run(m.dit(), m.text(), model.seed(), settings, latents, report, null, false);
                } else {
                    LatentFormat vc = decoder.format();
                    VideoSpec spec = new VideoSpec(settings.latentWidth() * vc.spatialScale(),
                            settings.latentHeight() * vc.spatialScale(), fps);
                    long frames = vc.videoFrames(settings.totalFrames());
                    log.printf("video: %d frames at %dx%d, %d fps -> %s%n", frames, spec.width(), spec.height(), fps, outName);
                    try (FrameSink sink = VideoSinks.open(outName, spec, a.has("ffmpeg") ? a.string("ffmpeg", "") : null, out)) {
                        Decoding d = new Decoding(decoder.newStream(arena), sink,
                                new Progress(log, System.console() != null && log == out, System::nanoTime,
                                        settings.chunks(), frames));
                        Decoding.run(m.dit(), m.text(), model.seed(), settings, latents, report, d, decodeBackend != null);
                        sink.finish();
                        log.printf("decode: %.1f ms per latent frame; wrote %d frames to %s%n",
                                d.decodeNanos() / 1e6 / settings.totalFrames(), sink.frames(), outName);
                        log.println(d.rates(sink.frames()));
                    }
                }
                report.summary();
                if (latents != null) {
                    GenerateLatentsCommand.writeLatents(latentsPath, model, settings, report.evaluations(), latents);
                    log.println("wrote " + latentsPath + " latents " + latents);
                }
            }
        }
        return 0;
    }

    /**
     * --decode-threads: by default half the threads for a small DiT on the CPU (measured on 2 cores, the
     * default model streams about 1.6x faster with the DiT and the decoder on a core each than with both
     * taking turns on two threads; README.md), none for a large DiT, whose chunks need every thread, or a GPU.
     */
    private static int decodeThreads(Args a, ModelOptions model) {
        boolean cpu = model.cudaDevice() < 0;
        int fallback = cpu && model.threads() >= 2 && WarmUp.isSmall(model.config()) ? model.threads() / 2 : 0;
        int n = a.integer("decode-threads", fallback, 0, 1024);
        if (n > 0 && !cpu) {
            throw new Args.UsageException("--decode-threads is for the CPU backend; with --device cuda the GPU decodes");
        }
        if (n >= model.threads() && n > 0) {
            throw new Args.UsageException("--decode-threads " + n + " leaves the DiT none of --threads "
                    + model.threads() + "; use at most " + (model.threads() - 1) + ", or 0");
        }
        return n;
    }
}
