package dev.diagonal.cli;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Arrays;

/** The {@code diagonal} command line: one class per command, this one only dispatches. */
public final class Main {
    private Main() {
    }

    static final String USAGE = """
            usage: diagonal <command> [flags]
              generate           run the diagonal stream and the VAE decoder, writing video as it is made
              generate-latents   run the diagonal denoising stream and write the latents (safetensors)
              eval               score a model directory on its held-out prompts (adherence, motion, drift, speed)
              encode-prompt      run the text encoder on a prompt and write its context (safetensors)
              random-weights     write random weights of a config as a safetensors checkpoint
              convert            rewrite a PyTorch .pt/.pth checkpoint as safetensors (mapped names, dtypes kept)
              bench              time chunk forwards and whole streams, side by side
              batch              a prompt file's clips on Spark (embedded or spark-submit), results as Parquet
              serve              live streams in the browser, with prompt changes mid-stream
              help               this text
            'diagonal <command> --help' lists a command's flags.""";

    /** The launcher names the shipped model directory (weights/) with -Ddiagonal.model. */
    public static void main(String[] argv) {
        String model = System.getProperty("diagonal.model");
        System.exit(run(argv, System.out, System.err, model == null ? null : Path.of(model)));
    }

    static int run(String[] argv, PrintStream out, PrintStream err) {
        return run(argv, out, err, null);
    }

    /**
     * Runs a command and returns the process exit code: 0 done, 1 failed, 2 bad command line.
     *
     * @param defaultModel the model directory generate uses when given no model flags (null: none)
     */
    static int run(String[] argv, PrintStream out, PrintStream err, Path defaultModel) {
        if (argv.length == 0 || argv[0].equals("help") || argv[0].equals("--help") || argv[0].equals("-h")) {
            out.println(USAGE);
            return argv.length == 0 ? 2 : 0;
        }
        String[] rest = Arrays.copyOfRange(argv, 1, argv.length);
        try {
            return switch (argv[0]) {
                case "generate" -> new GenerateCommand(out, err, defaultModel).run(rest);
                case "generate-latents" -> new GenerateLatentsCommand(out, defaultModel).run(rest);
                case "eval" -> new EvalCommand(out, defaultModel).run(rest);
                case "encode-prompt" -> new EncodePromptCommand(out).run(rest);
                case "random-weights" -> new RandomWeightsCommand(out).run(rest);
                case "convert" -> new ConvertCommand(out).run(rest);
                case "bench" -> new BenchCommand(out).run(rest);
                case "batch" -> throw new Args.UsageException("batch runs on Spark, which this jar leaves out: run it as "
                        + "'./diagonal batch', or spark-submit target/spark/diagonal-batch.jar (README: Batch generation on Spark)");
                case "serve" -> new ServeCommand(out, defaultModel).run(rest);
                default -> throw new Args.UsageException("unknown command '" + argv[0] + "'\n" + USAGE);
            };
        } catch (Args.UsageException e) {
            err.println("diagonal: " + e.getMessage());
            return 2;
        } catch (IllegalArgumentException e) {
            err.println("diagonal " + argv[0] + ": " + e.getMessage());
            return 2;
        } catch (OutOfMemoryError e) {
            err.println("diagonal " + argv[0] + ": out of memory (" + e.getMessage()
                    + "); try a smaller latent size, fewer chunks, a --window, or a larger -Xmx");
            return 1;
        } catch (Exception e) {
            err.println("diagonal " + argv[0] + ": " + e.getMessage());
            return 1;
        }
    }
}
