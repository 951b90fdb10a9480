package dev.diagonal.serve;

import dev.diagonal.backend.cpu.CpuBackend;
import dev.diagonal.eval.EvalPrompts;
import dev.diagonal.eval.VideoMetrics;
import dev.diagonal.model.ModelBundle;
import dev.diagonal.model.dit.TextContext;
import dev.diagonal.model.vae.DecodeStream;
import dev.diagonal.stream.ChunkStream;
import dev.diagonal.stream.SeededNoise;
import dev.diagonal.stream.StepObserver;
import dev.diagonal.stream.SwitchRule;
import dev.diagonal.tensor.Tensor;
import dev.diagonal.video.Frames;

import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * What a prompt switch does to the picture, per cache rule, on a model directory: for pairs of prompts that
 * differ only in the object's colour, a stream starts on the first, switches to the second before chunk
 * {@value #SWITCH_CHUNK}, and {@link VideoMetrics} reads the object's colour over half a second centred 0.5,
 * 1 and 2 s after the first frame made under the second prompt. Reported: how often that colour is the second
 * prompt's (and still the first's), for keep, reencode, and the two references, the second prompt from the
 * start (what the model manages at all) and the first prompt never switched (chance of the second's colour).
 *
 * <pre>benchmarks/main dev.diagonal.serve.PromptSwitchMeasure [--model weights] [--pairs 24] [--seeds 3]</pre>
 */
public final class PromptSwitchMeasure {
    static final int SWITCH_CHUNK = 3;
    static final double[] AT_SECONDS = {0.5, 1, 2};

    private PromptSwitchMeasure() {
    }

    private enum Condition { KEEP, REENCODE, SECOND_FROM_START, FIRST_ONLY }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of("weights");
        int pairs = 24, seeds = 3;
        for (int i = 0; i + 1 < args.length; i += 2) {
            switch (args[i]) {
                case "--model" -> dir = Path.of(args[i + 1]);
                case "--pairs" -> pairs = Integer.parseInt(args[i + 1]);
                case "--seeds" -> seeds = Integer.parseInt(args[i + 1]);
                default -> throw new IllegalArgumentException("unknown flag " + args[i]);
            }
        }
        ModelBundle bundle = ModelBundle.load(dir);
        EvalPrompts set = EvalPrompts.load(dir.resolve("eval.json"));
        List<EvalPrompts.Prompt> seen = set.seen().isEmpty() ? set.prompts() : set.seen();
        try (CpuBackend backend = new CpuBackend(Runtime.getRuntime().availableProcessors());
             ServeModel model = ServeModel.open(bundle, backend)) {
            int fps = model.fps();
            VideoMetrics vm = new VideoMetrics(model.width(), model.height());
            int switchFrame = (int) bundle.vae().videoFrames((long) SWITCH_CHUNK * bundle.stream().chunkFrames());
            int lastFrame = switchFrame + (int) Math.ceil(AT_SECONDS[AT_SECONDS.length - 1] * fps) + fps / 4;
            int chunks = SWITCH_CHUNK;
            while (bundle.vae().videoFrames((long) chunks * bundle.stream().chunkFrames()) < lastFrame) {
                chunks++;
            }
            System.out.printf("model %s: %d pairs x %d seeds, switch before chunk %d (frame %d), %d chunks, colour read"
                    + " over frames t*%d +- %d after the switch%n", bundle.name(), pairs, seeds, SWITCH_CHUNK, switchFrame,
                    chunks, fps, fps / 4);
            int[][] second = new int[Condition.values().length][AT_SECONDS.length];
            int[][] first = new int[Condition.values().length][AT_SECONDS.length];
            int runs = 0;
            for (int p = 0; p < pairs; p++) {
                EvalPrompts.Prompt a = seen.get(p % seen.size());
                EvalPrompts.Prompt b = recoloured(a, seen, p);
                for (int s = 0; s < seeds; s++) {
                    StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "%-7s -> %-7s seed %d:", a.colour(),
                            b.colour(), s));
                    for (Condition c : Condition.values()) {
                        List<byte[]> frames = run(model, a.caption(), b.caption(), c, chunks, s);
                        line.append("  ").append(c.name().toLowerCase(Locale.ROOT)).append(' ');
                        for (int t = 0; t < AT_SECONDS.length; t++) {
                            int centre = switchFrame + (int) Math.round(AT_SECONDS[t] * fps);
                            List<byte[]> window = frames.subList(centre - fps / 4, centre + fps / 4);
                            String colour = vm.colour(window, window.stream().map(vm::objectMask).toList(), set.palette());
                            second[c.ordinal()][t] += b.colour().equals(colour) ? 1 : 0;
                            first[c.ordinal()][t] += a.colour().equals(colour) ? 1 : 0;
                            line.append(colour == null ? "-" : colour).append(t + 1 < AT_SECONDS.length ? "/" : "");
                        }
                    }
                    System.out.println(line);
                    runs++;
                }
            }
            System.out.printf("%nover %d streams (%d colour pairs x %d seeds): object in the second prompt's colour"
                    + " (first prompt's in brackets), read at%n", runs, pairs, seeds);
            System.out.printf("%-20s %16s %16s %16s%n", "", "0.5 s", "1 s", "2 s");
            for (Condition c : Condition.values()) {
                StringBuilder row = new StringBuilder(String.format("%-20s", c.name().toLowerCase(Locale.ROOT)));
                for (int t = 0; t < AT_SECONDS.length; t++) {
                    row.append(String.format(Locale.ROOT, " %7.1f%% (%4.1f%%)", 100.0 * second[c.ordinal()][t] / runs,
                            100.0 * first[c.ordinal()][t] / runs));
                }
                System.out.println(row);
            }
        }
    }

    /** The same caption with another prompt's colour word: only the colour changes at the switch. */
    static EvalPrompts.Prompt recoloured(EvalPrompts.Prompt a, List<EvalPrompts.Prompt> all, int p) {
        // Colours drawn from prompts 5, 10, ... further on, so pairs spread over the palette.
        for (int k = 1; k < all.size(); k++) {
            EvalPrompts.Prompt o = all.get((p + 5 * k) % all.size());
            if (!o.colour().equals(a.colour())) {
                String article = o.colour().matches("[aeiou].*") ? "an " : "a ";
                String rest = a.caption().substring(a.caption().indexOf(a.colour()) + a.colour().length());
                return new EvalPrompts.Prompt(article + o.colour() + rest, o.colour(), a.shape(), a.direction(),
                        a.background());
            }
        }
        throw new IllegalStateException("every prompt has colour " + a.colour());
    }

    static List<byte[]> run(ServeModel model, String a, String b, Condition c, int chunks, long seed) {
        List<byte[]> frames = new ArrayList<>();
        try (Arena arena = Arena.ofShared();
             ChunkStream stream = new ChunkStream(model.dit(), model.encode(c == Condition.SECOND_FROM_START ? b : a, arena),
                     model.settings(chunks), new SeededNoise(seed), StepObserver.NONE)) {
            TextContext second = model.encode(b, arena);
            DecodeStream decode = model.decoder().newStream(arena);
            for (int k = 0; stream.hasNext(); k++) {
                if (k == SWITCH_CHUNK && (c == Condition.KEEP || c == Condition.REENCODE)) {
                    stream.switchText(second, c == Condition.KEEP ? SwitchRule.KEEP : SwitchRule.REENCODE);
                }
                try (Arena frame = Arena.ofShared()) {
                    Tensor video = decode.decode(stream.next().latents(), frame);
                    for (long t = 0; t < video.dim(1); t++) {
                        frames.add(Frames.toRgb(video, t, new byte[model.width() * model.height() * 3]));
                    }
                }
            }
        }
        return frames;
    }
}
