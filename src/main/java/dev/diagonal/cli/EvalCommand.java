package dev.diagonal.cli;

import dev.diagonal.backend.Backend;
import dev.diagonal.eval.EvalPrompts;
import dev.diagonal.eval.VideoMetrics;
import dev.diagonal.io.Weights;
import dev.diagonal.model.ModelBundle;
import dev.diagonal.model.dit.TextContext;
import dev.diagonal.model.dit.WanDiT;
import dev.diagonal.model.vae.DecodeStream;
import dev.diagonal.model.vae.LatentDecoder;
import dev.diagonal.stream.ChunkStream;
import dev.diagonal.stream.SeededNoise;
import dev.diagonal.stream.StepObserver;
import dev.diagonal.stream.StreamSettings;
import dev.diagonal.tensor.Tensor;
import dev.diagonal.video.Frames;
import dev.diagonal.video.VideoSpec;
import dev.diagonal.video.Y4mSink;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * {@code diagonal eval}: runs a model directory's evaluation prompts through the Java engine (DiT stream and
 * VAE decoder, as generate does) and reads the videos with {@link VideoMetrics}: prompt adherence (colour,
 * shape, direction) on held-out and on training pairs, motion speed, drift over a long rollout (held-out
 * prompts), and speed of the engine itself.
 */
final class EvalCommand {
    static final Set<String> VALUED = Set.of("model", "prompts", "chunks", "long", "seed", "threads", "limit",
            "warmup", "device", "schedule", "context", "window", "sink", "decoder", "videos");
    static final Set<String> SWITCHES = Set.of("help");

    private final PrintStream out;
    private final Path defaultModel;

    EvalCommand(PrintStream out, Path defaultModel) {
        this.out = out;
        this.defaultModel = defaultModel;
    }

    int run(String[] argv) throws IOException {
        Args a = new Args("eval", argv, VALUED, SWITCHES);
        if (a.has("help")) {
            out.println("""
                    usage: diagonal eval [flags]
                      --model DIR      model directory (default: the shipped weights/)
                      --prompts F      evaluation set (default DIR/eval.json: held-out captions, what each asks for,
                                       and captions of training pairs)
                      --limit N        only the first N prompts of each set
                      --chunks N       chunks per video (default: the model's cache window, its training length)
                      --long N         also roll out N chunks per prompt and report drift: saturation, object
                                       size and colour, first vs last second (default 0: skip)
                      --schedule, --context, --window F, --sink F
                                       the stream's step lists, context rule and KV cache (default: the model's)
                      --seed N         noise seed of the first prompt; prompt i uses seed + i (default 0)
                      --threads N      CPU threads (default: all cores)
                      --device D       cpu (default), cuda or cuda:N: where the DiT and the VAE run
                      --decoder vae|tiny  the VAE decoder or the model's tiny decoder (default: vae)
                      --warmup N       tiny streams before the first prompt, so speed is measured compiled
                                       (default: 3 for a small DiT, 0 for a large one)
                      --videos DIR     also write each scored video to DIR as NN-caption.y4m (and with
                                       --long, NN-caption-long.y4m), to look at
                                       what was read (held-out prompts first, then training pairs)""");
            return 0;
        }
        ModelOptions model = ModelOptions.parse(a, defaultModel);
        ModelBundle bundle = model.bundle();
        if (bundle == null) {
            throw new Args.UsageException("eval needs a model directory: --model DIR (no weights/ model found)");
        }
        EvalPrompts set = EvalPrompts.load(a.has("prompts") ? Path.of(a.string("prompts", "")) : bundle.dir().resolve("eval.json"));
        int limit = a.integer("limit", 100_000, 1, 100_000);
        List<EvalPrompts.Prompt> prompts = set.prompts().subList(0, Math.min(set.prompts().size(), limit));
        List<EvalPrompts.Prompt> seen = set.seen().subList(0, Math.min(set.seen().size(), limit));
        int trainChunks = Math.max(1, bundle.stream().window() / bundle.stream().chunkFrames());
        StreamSettings base = StreamOptions.parse(a, model);
        StreamSettings shortRun = with(base, a.integer("chunks", trainChunks, 1, StreamSettings.MAX_FRAMES));
        int longChunks = a.integer("long", 0, 0, StreamSettings.MAX_FRAMES);
        int warmUps = a.integer("warmup", -1, 0, 100);
        Path videos = a.has("videos") ? Path.of(a.string("videos", "")) : null;
        if (videos != null) {
            Files.createDirectories(videos);
        }

        VaeOptions vae = VaeOptions.parse(a, model);
        Backend backend = model.backend();
        try (backend; Weights weights = model.openWeights(out); Weights vaeWeights = vae.open(out);
             Arena arena = Arena.ofShared()) {
            WanDiT dit = WanDiT.load(model.config(), model.parameters(weights, arena, out), backend, arena);
            LatentDecoder decoder = vae.load(vaeWeights, backend, arena);
            int scale = bundle.vae().spatialScale();
            VideoMetrics vm = new VideoMetrics(base.latentWidth() * scale, base.latentHeight() * scale);
            VideoSpec videoSpec = new VideoSpec(base.latentWidth() * scale, base.latentHeight() * scale,
                    bundle.stream().fps());
            Tally tally = new Tally();
            Adherence heldOut = new Adherence("held-out"), trained = new Adherence("training-pair");
            for (int i = 0; i < prompts.size() + seen.size(); i++) {
                boolean held = i < prompts.size();
                EvalPrompts.Prompt p = held ? prompts.get(i) : seen.get(i - prompts.size());
                try (Arena promptArena = Arena.ofShared()) {
                    // One encoding per prompt, shared by its short and long runs.
                    TextContext text = dit.encodeText(new TextOptions(p.caption(), bundle.text(), List.of(bundle.textFile()),
                            bundle.tokenizer(), null, model.seed()).context(model.config().textLen(), backend, promptArena,
                            new PrintStream(OutputStream.nullOutputStream())), promptArena);
                    if (i == 0) {
                        WarmUp.run(dit, text, decoder, shortRun, warmUps, out);
                    }
                    Video v = generate(dit, text, decoder, shortRun, model.seed() + i);
                    score(p, v, vm, set, tally, held ? heldOut : trained);
                    if (videos != null) {
                        write(videos.resolve(String.format("%02d-%s.y4m", i, slug(p.caption()))), v.frames, videoSpec);
                    }
                    if (longChunks > 0) {
                        Video lv = generate(dit, text, decoder, with(base, longChunks), model.seed() + i);
                        String[] colours = tally.drift(vm, lv.frames, bundle.stream().fps(), p.colour(), set.palette(),
                                p.background() == null ? null : set.backgrounds().get(p.background()));
                        out.printf("  over %d chunks: colour %s in the first second, %s in the last%n", longChunks,
                                colours[0], colours[1]);
                        if (videos != null) {
                            write(videos.resolve(String.format("%02d-%s-long.y4m", i, slug(p.caption()))), lv.frames,
                                    videoSpec);
                        }
                    }
                }
            }
            heldOut.report(out, shortRun);
            trained.report(out, shortRun);
            tally.report(out, longChunks);
        }
        return 0;
    }

    /** Reads one video against what its prompt asks for, prints the line, adds it to the tally. */
    private void score(EvalPrompts.Prompt p, Video v, VideoMetrics vm, EvalPrompts set, Tally tally,
                       Adherence adherence) {
        List<boolean[]> masks = v.frames.stream().map(vm::objectMask).toList();
        List<double[]> track = masks.stream().map(vm::centroid).toList();
        String colour = vm.colour(v.frames, masks, set.palette());
        String shape = vm.shape(masks);
        String direction = vm.direction(track);
        double speed = VideoMetrics.speed(track);
        adherence.add(p.colour().equals(colour), p.shape().equals(shape), p.direction().equals(direction),
                colour != null);
        double background = Double.NaN;
        if (p.background() != null) {
            background = vm.backgroundError(v.frames, set.backgrounds().get(p.background()));
            adherence.addBackground(background);
        }
        tally.add(speed, v);
        out.printf("%-60s colour %-7s %s  shape %-8s %s  direction %-5s %s  %.2f px/frame%s%n", p.caption(),
                colour, mark(p.colour().equals(colour)), shape, mark(p.shape().equals(shape)), direction,
                mark(p.direction().equals(direction)), speed,
                Double.isNaN(background) ? "" : String.format("  background off by %.3f", background));
    }

    /** The video as a Y4M file, complete or not there at all (Y4mSink writes a .partial until finish). */
    private static void write(Path file, List<byte[]> frames, VideoSpec spec) throws IOException {
        try (Y4mSink sink = Y4mSink.toFile(file, spec)) {
            for (byte[] rgb : frames) {
                sink.write(rgb);
            }
            sink.finish();
        }
    }

    /** A file-name-safe form of a caption: lower-case letters and digits, the rest runs of '-'. */
    static String slug(String caption) {
        String s = caption.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]+", "-").replaceAll("^-|-$", "");
        return s.isEmpty() ? "prompt" : s.substring(0, Math.min(s.length(), 80));
    }

    private static String mark(boolean ok) {
        return ok ? "ok" : "--";
    }

    private static StreamSettings with(StreamSettings s, int chunks) {
        return new StreamSettings(chunks, s.chunkFrames(), s.latentHeight(), s.latentWidth(), s.schedule(), s.contextRule(),
                s.windowFrames(), s.sinkFrames());
    }

    private record Video(List<byte[]> frames, long ditNanos, long decodeNanos, int latentFrames) {
    }

    private static Video generate(WanDiT dit, TextContext context, LatentDecoder decoder, StreamSettings settings, long seed)
            throws IOException {
        try (Arena arena = Arena.ofShared()) {
            DecodeStream decode = decoder.newStream(arena);
            List<byte[]> frames = new ArrayList<>();
            int scale = decoder.format().spatialScale();
            int rgbBytes = settings.latentWidth() * scale * settings.latentHeight() * scale * 3;
            long[] nanos = new long[2];
            try (ChunkStream stream = new ChunkStream(dit, context, settings, new SeededNoise(seed), StepObserver.NONE)) {
                stream.drainTo(chunk -> {
                    nanos[0] += chunk.nanos();
                    long t0 = System.nanoTime();
                    try (Arena frameArena = Arena.ofShared()) {
                        Tensor video = decode.decode(chunk.latents(), frameArena);
                        for (long t = 0; t < video.dim(1); t++) {
                            frames.add(Frames.toRgb(video, t, new byte[rgbBytes]));
                        }
                    }
                    nanos[1] += System.nanoTime() - t0;
                });
            }
            return new Video(frames, nanos[0], nanos[1], settings.totalFrames());
        }
    }

    /** Prompt adherence over one set of prompts. */
    private static final class Adherence {
        final String label;
        int prompts, colour, shape, direction, found, backgrounds, tinted;
        double backgroundSum;

        Adherence(String label) {
            this.label = label;
        }

        /** found: the video shows an object at all (the colour reading needs one), right or wrong. */
        void add(boolean c, boolean s, boolean d, boolean f) {
            prompts++;
            colour += c ? 1 : 0;
            shape += s ? 1 : 0;
            direction += d ? 1 : 0;
            found += f ? 1 : 0;
        }

        /** How far a video's background is from the one its prompt asks for (VideoMetrics.backgroundError). */
        void addBackground(double error) {
            backgrounds++;
            backgroundSum += error;
            tinted += error > VideoMetrics.TINTED ? 1 : 0;
        }

        void report(PrintStream out, StreamSettings s) {
            if (prompts > 0) {
                out.printf("adherence over %d %s prompts (%d chunks each): colour %.1f%%, shape %.1f%%, direction %.1f%%,"
                                + " object found %.1f%%%n", prompts, label, s.chunks(), 100.0 * colour / prompts,
                        100.0 * shape / prompts, 100.0 * direction / prompts, 100.0 * found / prompts);
            }
            if (backgrounds > 0) {
                out.printf("background of the %s prompts: %.3f from the asked colour (RGB distance, mean), tinted (over"
                        + " %.2f) in %d of %d%n", label, backgroundSum / backgrounds, VideoMetrics.TINTED, tinted, backgrounds);
            }
        }
    }

    /** Running totals over all prompts: motion, engine speed, drift. */
    private static final class Tally {
        int speedCount, driftRuns, colourFirst, colourLast, colourKept, backgroundRuns, tintedLast;
        double speedSum, satFirst, satLast, areaFirst, areaLast, backgroundFirst, backgroundLast;
        long ditNanos, decodeNanos, latentFrames, videoFrames;

        void add(double speed, Video v) {
            if (!Double.isNaN(speed)) {
                speedSum += speed;
                speedCount++;
            }
            ditNanos += v.ditNanos;
            decodeNanos += v.decodeNanos;
            latentFrames += v.latentFrames;
            videoFrames += v.frames.size();
        }

        /**
         * Saturation, object area, whether the object is still the asked colour and how far the background is
         * from the asked one (when the prompt names it): first vs last second. Returns the colours read in the
         * first and the last second (null where no object was found).
         */
        String[] drift(VideoMetrics vm, List<byte[]> frames, int fps, String colour, Map<String, double[]> palette,
                   double[] background) {
            int n = Math.min(fps, frames.size() / 2);
            List<byte[]> first = frames.subList(0, n), last = frames.subList(frames.size() - n, frames.size());
            List<boolean[]> firstMasks = first.stream().map(vm::objectMask).toList();
            List<boolean[]> lastMasks = last.stream().map(vm::objectMask).toList();
            String seenFirst = vm.colour(first, firstMasks, palette);
            String seenLast = vm.colour(last, lastMasks, palette);
            colourFirst += colour.equals(seenFirst) ? 1 : 0;
            colourLast += colour.equals(seenLast) ? 1 : 0;
            colourKept += seenFirst != null && seenFirst.equals(seenLast) ? 1 : 0;
            for (int i = 0; i < n; i++) {
                satFirst += vm.saturation(first.get(i)) / n;
                satLast += vm.saturation(last.get(i)) / n;
                areaFirst += count(firstMasks.get(i)) / (double) n;
                areaLast += count(lastMasks.get(i)) / (double) n;
            }
            if (background != null) {
                double lastError = vm.backgroundError(last, background);
                backgroundFirst += vm.backgroundError(first, background);
                backgroundLast += lastError;
                tintedLast += lastError > VideoMetrics.TINTED ? 1 : 0;
                backgroundRuns++;
            }
            driftRuns++;
            return new String[]{seenFirst, seenLast};
        }

        private static int count(boolean[] m) {
            int c = 0;
            for (boolean b : m) {
                c += b ? 1 : 0;
            }
            return c;
        }

        void report(PrintStream out, int longChunks) {
            out.printf("motion: %.2f px/frame mean centroid speed%n", speedCount == 0 ? Double.NaN : speedSum / speedCount);
            double dit = ditNanos / 1e9, dec = decodeNanos / 1e9;
            out.printf("speed: DiT %.1f latent frames/s, decode %.1f video frames/s, end to end %.1f video frames/s%n",
                    latentFrames / dit, videoFrames / dec, videoFrames / (dit + dec));
            if (driftRuns > 0) {
                out.printf("drift over %d chunks: saturation %.3f -> %.3f (first vs last second), object area %.1f -> %.1f px,"
                                + " asked colour %d -> %d of %d, first second's colour kept in %d%n", longChunks, satFirst / driftRuns,
                        satLast / driftRuns, areaFirst / driftRuns, areaLast / driftRuns, colourFirst, colourLast, driftRuns,
                        colourKept);
            }
            if (backgroundRuns > 0) {
                out.printf("background over %d chunks: %.3f -> %.3f from the asked colour (first vs last second), tinted"
                                + " (over %.2f) in %d of %d last seconds%n", longChunks, backgroundFirst / backgroundRuns,
                        backgroundLast / backgroundRuns, VideoMetrics.TINTED, tintedLast, backgroundRuns);
            }
        }
    }
}
