package dev.diagonal.batch;

import dev.diagonal.cli.ClipModel;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a job will do, worked out on the driver before Spark starts: the model opened once (so a missing or
 * malformed model directory, or a bad engine flag, fails before any task runs), the prompt file read and
 * its bad lines reported, and one {@link ClipSpec} per distinct clip.
 *
 * @param duplicates lines that asked for a clip an earlier line already asked for (same prompt and seed)
 */
public record BatchPlan(List<ClipSpec> clips, JobConfig config, int lines, int badLines, int duplicates) {

    /**
     * @param defaultModel the model directory used when {@code engineFlags} name none (may be null)
     * @param log          where bad lines are reported, one per line as {@code file:line: reason}
     */
    public static BatchPlan make(Path prompts, Path out, List<String> engineFlags, Path defaultModel, long defaultSeed,
                                 OnBadLine onBadLine, boolean eval, FailureHook hook, PrintStream log) throws IOException {
        String identity;
        try (ClipModel model = ClipModel.open(engineFlags, defaultModel)) {
            // Threads are left out: they change how fast a clip is made, not its bytes.
            identity = model.modelName() + "|" + model.settings().describe() + "|" + model.spec() + "|"
                    + model.decoderName();
        }
        PromptFile file = PromptFile.read(prompts, defaultSeed);
        for (PromptFile.BadLine b : file.bad()) {
            log.println("batch: " + b.describe(prompts) + (onBadLine == OnBadLine.SKIP ? " (skipped)" : ""));
        }
        if (!file.bad().isEmpty() && onBadLine == OnBadLine.FAIL) {
            throw new BatchInputException(file.bad().size() + " bad line" + (file.bad().size() == 1 ? "" : "s") + " in "
                    + prompts + " (first: line " + file.bad().getFirst().number() + "); fix them or pass --on-bad-line skip");
        }
        Map<String, ClipSpec> clips = new LinkedHashMap<>();
        for (PromptFile.Line l : file.lines()) {
            String id = ClipSpec.id(identity, l.prompt(), l.seed());
            clips.putIfAbsent(id, new ClipSpec(id, l.number(), l.prompt(), l.seed()));
        }
        JobConfig config = new JobConfig(out.toAbsolutePath().normalize().toString(), engineFlags,
                defaultModel == null ? null : defaultModel.toAbsolutePath().toString(), eval, hook);
        return new BatchPlan(List.copyOf(new ArrayList<>(clips.values())), config, file.lines().size() + file.bad().size(),
                file.bad().size(), file.lines().size() - clips.size());
    }
}
