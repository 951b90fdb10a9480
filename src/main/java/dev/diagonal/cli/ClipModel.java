package dev.diagonal.cli;

import dev.diagonal.io.Weights;
import dev.diagonal.model.ModelBundle;
import dev.diagonal.model.vae.VaeConfig;
import dev.diagonal.stream.StreamSettings;
import dev.diagonal.video.VideoSpec;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * A model directory opened once for many clips: its DiT and VAE checkpoints mapped (read-only, so every
 * {@link ClipGenerator} made from it reads the same pages), and the stream settings resolved from
 * {@code generate}'s flags exactly as {@code generate} resolves them. A clip made here with seed S is the
 * clip {@code diagonal generate PROMPT --seed S} writes with the same flags, byte for byte.
 *
 * <p>Safe to share between threads; each thread makes clips through its own {@link #newGenerator()}.
 */
public final class ClipModel implements AutoCloseable {
    /** generate's flags, less those naming one clip (the prompt, the seed, the output) and latents. */
    static final Set<String> VALUED = GenerateLatentsCommand.union(ModelOptions.VALUED, StreamOptions.VALUED,
            VaeOptions.VALUED, Set.of("text-encoder", "text-config", "tokenizer", "prompt-cache", "fps", "warmup"));
    static final Set<String> SWITCHES = GenerateLatentsCommand.union(ModelOptions.SWITCHES, TextOptions.SWITCHES);

    private static final PrintStream QUIET = new PrintStream(OutputStream.nullOutputStream());

    private final List<String> flags;
    private final ModelOptions model;
    private final StreamSettings settings;
    private final VaeOptions vae;
    private final VideoSpec spec;
    private final long frames;
    private final int warmUps;
    private final Weights weights;
    private final Weights vaeWeights;

    private ClipModel(List<String> flags, ModelOptions model, StreamSettings settings, VaeOptions vae, VideoSpec spec,
                      long frames, int warmUps, Weights weights, Weights vaeWeights) {
        this.flags = flags;
        this.model = model;
        this.settings = settings;
        this.vae = vae;
        this.spec = spec;
        this.frames = frames;
        this.warmUps = warmUps;
        this.weights = weights;
        this.vaeWeights = vaeWeights;
    }

    /**
     * Opens the model that {@code generate} would run with {@code flags} ({@code --model DIR}, the stream
     * flags, {@code --threads}, {@code --fps}, ...; no prompt, seed or output). A bad flag or a model
     * directory that is missing or malformed fails here, before any clip.
     *
     * @param defaultModel the model directory used when the flags name none (may be null)
     */
    public static ClipModel open(List<String> flags, Path defaultModel) throws IOException {
        Args a = new Args("batch", flags.toArray(String[]::new), VALUED, SWITCHES);
        if (!a.positional().isEmpty()) {
            throw new Args.UsageException("batch takes its prompts from the prompt file, not '" + a.positional().getFirst() + "'");
        }
        ModelOptions model = ModelOptions.parse(a, defaultModel);
        if (model.bundle() == null) {
            throw new Args.UsageException("batch needs a model directory: --model DIR (no weights/ model found)");
        }
        StreamSettings settings = StreamOptions.parse(a, model);
        VaeOptions vae = VaeOptions.parse(a, model);
        int fps = a.integer("fps", model.bundle().stream().fps(), 1, 240);
        int warmUps = a.integer("warmup", -1, 0, 100);
        VaeConfig vc = vae.config();
        VideoSpec spec = new VideoSpec(settings.latentWidth() * vc.spatialScale(),
                settings.latentHeight() * vc.spatialScale(), fps);
        Weights weights = model.openWeights(QUIET);
        try {
            Weights vaeWeights = vae.open(QUIET);
            return new ClipModel(List.copyOf(flags), model, settings, vae, spec, vc.videoFrames(settings.totalFrames()),
                    warmUps, weights, vaeWeights);
        } catch (IOException | RuntimeException e) {
            if (weights != null) {
                weights.close();
            }
            throw e;
        }
    }

    /** Whether {@code name} (without its leading "--") is one of the flags {@link #open} takes a value for. */
    public static boolean takesValue(String name) {
        return VALUED.contains(name);
    }

    /** A generator for one thread: its own backend and activations, over this model's mapped weights. */
    public ClipGenerator newGenerator() {
        return ClipGenerator.create(this);
    }

    /** The model directory's name (model.json's "name"). */
    public String modelName() {
        return model.bundle().name();
    }

    /** The stream every clip runs: chunks, latent size, schedule, context rule, cache. */
    public StreamSettings settings() {
        return settings;
    }

    /** Which decoder makes the frames: "vae" or "tiny". */
    public String decoderName() {
        return vae.tiny() == null ? "vae" : "tiny";
    }

    /** Width, height and frame rate of every clip. */
    public VideoSpec spec() {
        return spec;
    }

    /** Video frames in every clip. */
    public long frames() {
        return frames;
    }

    /** The model directory. */
    public Path dir() {
        return model.bundle().dir();
    }

    ModelOptions options() {
        return model;
    }

    VaeOptions vae() {
        return vae;
    }

    Weights weights() {
        return weights;
    }

    Weights vaeWeights() {
        return vaeWeights;
    }

    int warmUps() {
        return warmUps;
    }

    /** The flags with one clip's prompt added, parsed as generate parses its own. */
    Args clipArgs(String prompt) {
        List<String> argv = new ArrayList<>(flags);
        argv.add("--prompt");
        argv.add(prompt);
        return new Args("batch", argv.toArray(String[]::new), GenerateCommand.VALUED, GenerateCommand.SWITCHES);
    }

    static PrintStream quiet() {
        return QUIET;
    }

    @Override
    public void close() {
        if (vaeWeights != null) {
            vaeWeights.close();
        }
        if (weights != null) {
            weights.close();
        }
    }
}
