package dev.diagonal.batch;

import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * Runs a {@link BatchPlan} on Spark: one task per clip (a retry redoes one clip, and slow clips never hold
 * back a batch of others), each made by {@link ClipTask} on whichever executor has a free slot, and then
 * the results table, every clip of the prompt file including those an earlier run made, as Parquet in
 * {@code OUT/results.parquet} (one file: a table of thousands of rows is small).
 */
public final class BatchJob {
    /** The table's directory under the output directory. */
    public static final String TABLE = "results.parquet";

    private BatchJob() {
    }

    /** What a run did: clips in the table, how many it made and how many an earlier run had, and its wall time. */
    public record Summary(long clips, long made, long resumed, double seconds, Path table) {
        /** Clips this run made per minute of its wall time. */
        public double clipsPerMinute() {
            return made / (seconds / 60);
        }
    }

    public static Summary run(SparkSession spark, BatchPlan plan) throws IOException {
        long t0 = System.nanoTime();
        JobConfig config = withThreads(plan.config(), spark.sparkContext().getConf().getInt("spark.task.cpus", 1));
        Path out = Path.of(config.out());
        Files.createDirectories(out.resolve("clips"));
        Files.createDirectories(out.resolve("rows"));
        clear(out.resolve(ClipTask.ATTEMPTS)); // what attempts of a killed earlier job left
        Files.createDirectories(out.resolve(ClipTask.ATTEMPTS));

        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        List<ClipSpec> clips = plan.clips();
        JavaRDD<Row> rows = jsc.parallelize(clips, Math.max(1, clips.size()))
                .map(clip -> ClipTask.run(config, clip).toRow());
        Path table = out.resolve(TABLE);
        Dataset<Row> df = spark.createDataFrame(rows, ResultRow.SCHEMA);
        // The shuffle keeps one task per clip upstream; coalesce(1) would run every clip in one task.
        df.repartition(1).write().mode(SaveMode.Overwrite).parquet(table.toString());
        clear(out.resolve(ClipTask.ATTEMPTS));

        List<Row> counts = spark.read().parquet(table.toString()).groupBy("resumed").count().collectAsList();
        long made = 0, resumed = 0;
        for (Row r : counts) {
            if (r.getBoolean(0)) {
                resumed = r.getLong(1);
            } else {
                made = r.getLong(1);
            }
        }
        return new Summary(made + resumed, made, resumed, (System.nanoTime() - t0) / 1e9, table);
    }

    /**
     * Each task's generator gets the cores Spark gave the task (spark.task.cpus, 1 by default) unless the flags
     * say otherwise: more would oversubscribe an executor running several tasks at once.
     */
    static JobConfig withThreads(JobConfig c, int taskCpus) {
        if (c.engineFlags().stream().anyMatch(f -> f.equals("--threads") || f.startsWith("--threads="))) {
            return c;
        }
        List<String> flags = new ArrayList<>(c.engineFlags());
        flags.add("--threads");
        flags.add(Integer.toString(taskCpus));
        return new JobConfig(c.out(), flags, c.defaultModel(), c.eval(), c.hook());
    }

    private static void clear(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                // A speculative attempt Spark is still killing may remove its own file first.
                Files.deleteIfExists(p);
            }
        }
    }
}
