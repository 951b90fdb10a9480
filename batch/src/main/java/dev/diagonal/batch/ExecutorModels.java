package dev.diagonal.batch;

import dev.diagonal.cli.ClipGenerator;
import dev.diagonal.cli.ClipModel;
import dev.diagonal.eval.EvalPrompts;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The models of one executor JVM. This is the one piece of JVM-wide state in the project, and it has to be:
 * Spark deserializes each task's closure afresh in whichever executor has a free slot and gives tasks no
 * other way to reach a long-lived object, while mapping and loading a model per task would repeat for every
 * clip. So the first task to need a model opens it ({@link ClipModel}: checkpoints mapped once, read-only),
 * and every later task on that executor borrows a {@link ClipGenerator} over the same mapping: one per
 * concurrently running task, since a generator's backend serves one thread at a time. Generators go back to
 * the pool after each clip and live as long as the executor (its exit unmaps everything).
 */
final class ExecutorModels {
    private static final ConcurrentHashMap<Key, Shared> MODELS = new ConcurrentHashMap<>();

    private ExecutorModels() {
    }

    /** What identifies a model on an executor: generate's flags and the default model directory. */
    private record Key(List<String> flags, String defaultModel) {
    }

    /** A model, its idle generators, and the palette its eval set names colours with (null: none). */
    private record Shared(ClipModel model, ConcurrentLinkedQueue<ClipGenerator> idle, AtomicInteger generators,
                          Map<String, double[]> palette) {
    }

    /** A generator borrowed for one clip; closing it gives the generator back to the pool. */
    record Lease(ClipModel model, ClipGenerator generator, Map<String, double[]> palette, Runnable giveBack)
            implements AutoCloseable {
        @Override
        public void close() {
            giveBack.run();
        }
    }

    /** Borrows a generator for the model {@code config} names, opening the model on first use. */
    static Lease lease(JobConfig config) {
        Shared shared = MODELS.computeIfAbsent(new Key(config.engineFlags(), config.defaultModel()), ExecutorModels::open);
        ClipGenerator g = shared.idle().poll();
        if (g == null) {
            g = shared.model().newGenerator();
            shared.generators().incrementAndGet();
        }
        ClipGenerator borrowed = g;
        return new Lease(shared.model(), borrowed, shared.palette(), () -> shared.idle().add(borrowed));
    }

    private static Shared open(Key key) {
        try {
            ClipModel model = ClipModel.open(key.flags(), key.defaultModel() == null ? null : Path.of(key.defaultModel()));
            Path evalSet = model.dir().resolve("eval.json");
            Map<String, double[]> palette = Files.isRegularFile(evalSet) ? EvalPrompts.load(evalSet).palette() : null;
            return new Shared(model, new ConcurrentLinkedQueue<>(), new AtomicInteger(), palette);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Models open in this JVM (for tests: a job opens one per executor, whatever its number of clips). */
    static int models() {
        return MODELS.size();
    }

    /** Generators made in this JVM for the model {@code config} names (at most its concurrent tasks). */
    static int generators(JobConfig config) {
        Shared s = MODELS.get(new Key(config.engineFlags(), config.defaultModel()));
        return s == null ? 0 : s.generators().get();
    }
}
