package dev.diagonal.batch;

import dev.diagonal.cli.ClipModel;
import dev.diagonal.cli.ClipResult;
import dev.diagonal.video.VideoSpec;
import org.apache.spark.SparkEnv;
import org.apache.spark.TaskContext;

import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;

/**
 * Makes one clip on an executor and commits it, so that a task that is retried, speculated or killed never
 * leaves a half-written or duplicated clip:
 * <ol>
 *   <li>a clip whose row exists (with its video) is done: its row is read back, nothing is made;</li>
 *   <li>otherwise the video is written under {@code .attempts/}, with a name unique to this task attempt, so
 *       two attempts of one clip never write the same file;</li>
 *   <li>the finished video is renamed onto {@code clips/ID.y4m} (atomic: a reader sees no clip or a whole one;
 *       two attempts that both finish leave one file, and the same bytes whichever rename lands last, since
 *       a clip is a deterministic function of its id);</li>
 *   <li>then the row is written the same way onto {@code rows/ID.json}: a row means its video is whole.</li>
 * </ol>
 * An attempt that fails removes its own temporary files; one killed with its JVM leaves them under
 * {@code .attempts/}, which the next job on the directory clears before it starts.
 */
final class ClipTask {
    static final String ATTEMPTS = ".attempts";

    private ClipTask() {
    }

    static ResultRow run(JobConfig config, ClipSpec clip) throws IOException {
        Path out = Path.of(config.out());
        Path video = out.resolve(clip.videoPath());
        Path row = out.resolve(clip.rowPath());
        if (Files.isRegularFile(row) && Files.isRegularFile(video)) {
            return ResultRow.read(row).asResumed(clip.line());
        }
        TaskContext task = TaskContext.get();
        int attempt = task == null ? 0 : task.attemptNumber();
        String tag = clip.id() + "." + (task == null ? "driver" : Long.toString(task.taskAttemptId()));
        Path tempVideo = out.resolve(ATTEMPTS).resolve(tag + ".y4m");
        Path tempRow = out.resolve(ATTEMPTS).resolve(tag + ".json");
        try (ExecutorModels.Lease lease = ExecutorModels.lease(config)) {
            ClipModel model = lease.model();
            VideoSpec spec = model.spec();
            List<byte[]> frames = new ArrayList<>();
            long[] written = {0};
            ClipResult r = lease.generator().generate(clip.prompt(), clip.seed(), tempVideo, rgb -> {
                if (config.eval()) {
                    frames.add(rgb.clone());
                }
                written[0]++;
                if (config.hook() != null) {
                    config.hook().frame(clip, attempt, written[0]);
                }
            });
            ClipFigures figures = config.eval() ? ClipFigures.of(frames, spec.width(), spec.height(), lease.palette()) : null;
            move(tempVideo, video);
            ResultRow result = new ResultRow(clip.id(), clip.line(), clip.prompt(), clip.seed(), clip.videoPath(),
                    model.modelName(), model.settings().describe(), spec.width(), spec.height(), spec.fps(), r.frames(),
                    r.encodeNanos() / 1e9, r.warmUpNanos() / 1e9, r.renderNanos() / 1e9, r.decodeNanos() / 1e9,
                    r.framesPerSecond(), executor(), attempt, false, figures);
            result.write(row, tempRow);
            return result;
        } finally {
            Files.deleteIfExists(tempVideo);
            Files.deleteIfExists(tempRow);
        }
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("the output directory's filesystem cannot rename atomically (" + to
                    + "); batch needs a POSIX-like one (local, NFS, Lustre...)", e);
        }
    }

    private static String executor() {
        SparkEnv env = SparkEnv.get();
        return env == null ? "none" : env.executorId();
    }
}
