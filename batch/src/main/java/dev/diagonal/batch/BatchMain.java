package dev.diagonal.batch;

import dev.diagonal.cli.ClipModel;
import org.apache.spark.sql.SparkSession;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code diagonal batch}: a prompt file's clips made on Spark. Embedded ({@code local[*]}, nothing to install)
 * when run by the {@code diagonal} launcher, or on a cluster through {@code spark-submit --class
 * dev.diagonal.batch.BatchMain target/spark/diagonal-batch.jar ...}, where the master comes from spark-submit.
 */
public final class BatchMain {
    static final String USAGE = """
            usage: diagonal batch --prompts F.jsonl --out DIR [flags] [generate's model and stream flags]
              --prompts F           JSON Lines, one clip a line: {"prompt": "...", "seed": 7} (seed optional)
              --out DIR             clips/ID.y4m, rows/ID.json and the table results.parquet; a rerun skips
                                    the clips already there. On a cluster: a path every executor sees
              --master M            Spark master (default local[*]: embedded; under spark-submit, its own)
              --conf KEY=VALUE      a Spark setting (repeatable), e.g. spark.task.cpus=2 (under spark-submit,
                                    give spark-submit's own --conf instead)
              --on-bad-line skip|fail  a malformed prompt line is reported with its number, then skipped,
                                    or fails the job before any task runs (default fail)
              --eval                add each clip's eval figures (colour, shape, direction, px/frame) to the table
              --seed N              seed of lines that give none (default 0)
              --fail-first-attempt LINE:FRAMES
                                    test hook: the first attempt of that line's task dies after FRAMES frames
            and generate's flags for the model and the stream, the same for every clip: --model DIR (default
            the shipped weights/), --chunks, --schedule, --context, --window, --sink, --fps, --threads
            (default spark.task.cpus), --device, --warmup, --no-prompt-cache.""";

    private BatchMain() {
    }

    public static void main(String[] argv) {
        System.exit(run(argv, System.out, System.err));
    }

    /** Runs the job; returns the exit code: 0 done, 1 failed, 2 bad command line or input (nothing ran). */
    static int run(String[] argv, PrintStream out, PrintStream err) {
        Options o;
        BatchPlan plan;
        try {
            o = Options.parse(argv);
            if (o == null) {
                out.println(USAGE);
                return 0;
            }
            String model = System.getProperty("diagonal.model");
            plan = BatchPlan.make(o.prompts, o.out, o.engineFlags, model == null ? null : Path.of(model), o.seed,
                    o.onBadLine, o.eval, o.hook, err);
        } catch (Exception e) { // bad flags, a bad prompt file, a missing model: nothing has run
            err.println("diagonal batch: " + e.getMessage());
            return 2;
        }
        out.printf("batch: %d clips from %d lines of %s (%d bad, %d repeated) -> %s%n", plan.clips().size(), plan.lines(),
                o.prompts, plan.badLines(), plan.duplicates(), plan.config().out());
        SparkSession.Builder builder = SparkSession.builder().appName("diagonal batch");
        String master = o.master != null ? o.master : System.getProperty("spark.master") == null ? "local[*]" : null;
        if (master != null) {
            builder.master(master);
        }
        o.conf.forEach(builder::config);
        if (master != null && master.startsWith("local") && !o.conf.containsKey("spark.ui.enabled")) {
            builder.config("spark.ui.enabled", "false"); // an embedded run has no one to look at it
        }
        try (SparkSession spark = builder.getOrCreate()) {
            out.println("batch: Spark " + spark.version() + ", master " + spark.sparkContext().master());
            BatchJob.Summary s = BatchJob.run(spark, plan);
            out.printf("batch: %d clips in the table (%d made now, %d done before) in %.1f s: %.2f clips/min; table %s%n",
                    s.clips(), s.made(), s.resumed(), s.seconds(), s.clipsPerMinute(), s.table());
            return 0;
        } catch (Exception e) {
            err.println("diagonal batch: " + e.getMessage());
            return 1;
        }
    }

    /** The batch flags; everything else is generate's, passed on to {@link ClipModel#open}. */
    private record Options(Path prompts, Path out, String master, Map<String, String> conf, OnBadLine onBadLine,
                           boolean eval, long seed, FailureHook hook, List<String> engineFlags) {

        /** The options, or null when help was asked for. */
        static Options parse(String[] argv) {
            Path prompts = null, out = null;
            String master = null;
            Map<String, String> conf = new LinkedHashMap<>();
            OnBadLine onBadLine = OnBadLine.FAIL;
            boolean eval = false;
            long seed = 0;
            FailureHook hook = null;
            List<String> engine = new ArrayList<>();
            for (int i = 0; i < argv.length; i++) {
                String a = argv[i];
                switch (a) {
                    case "--help", "-h" -> {
                        return null;
                    }
                    case "--prompts" -> prompts = Path.of(value(argv, ++i, a));
                    case "--out" -> out = Path.of(value(argv, ++i, a));
                    case "--master" -> master = value(argv, ++i, a);
                    case "--conf" -> {
                        String kv = value(argv, ++i, a);
                        int eq = kv.indexOf('=');
                        if (eq <= 0) {
                            throw new BatchInputException("--conf takes KEY=VALUE, got '" + kv + "'");
                        }
                        conf.put(kv.substring(0, eq), kv.substring(eq + 1));
                    }
                    case "--on-bad-line" -> onBadLine = OnBadLine.parse(value(argv, ++i, a));
                    case "--eval" -> eval = true;
                    case "--seed" -> {
                        try {
                            seed = Long.parseLong(value(argv, ++i, a));
                        } catch (NumberFormatException e) {
                            throw new BatchInputException("--seed must be an integer, got '" + argv[i] + "'");
                        }
                    }
                    case "--fail-first-attempt" -> hook = FailureHook.parse(value(argv, ++i, a));
                    default -> {
                        engine.add(a);
                        if (a.startsWith("--") && !a.contains("=") && ClipModel.takesValue(a.substring(2))) {
                            engine.add(value(argv, ++i, a));
                        }
                    }
                }
            }
            if (prompts == null || out == null) {
                throw new BatchInputException("--prompts and --out are required\n" + USAGE);
            }
            return new Options(prompts, out, master, Map.copyOf(conf), onBadLine, eval, seed, hook, List.copyOf(engine));
        }

        private static String value(String[] argv, int i, String flag) {
            if (i >= argv.length) {
                throw new BatchInputException(flag + " needs a value");
            }
            return argv[i];
        }
    }
}
