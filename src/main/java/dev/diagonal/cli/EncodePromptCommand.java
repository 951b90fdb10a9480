package dev.diagonal.cli;

import dev.diagonal.backend.Backend;
import dev.diagonal.io.SafetensorsWriter;
import dev.diagonal.model.t5.T5Config;
import dev.diagonal.tensor.Tensor;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;

/**
 * {@code diagonal encode-prompt}: a prompt through the tokenizer and text encoder into a 'context'
 * safetensors file that {@code --prompt-embedding} reads (and into the prompt cache).
 */
final class EncodePromptCommand {
    static final Set<String> VALUED = GenerateLatentsCommand.union(TextOptions.VALUED, Set.of("out", "threads", "seed", "text-len"));
    static final Set<String> SWITCHES = GenerateLatentsCommand.union(TextOptions.SWITCHES, Set.of("help"));

    private final PrintStream out;

    EncodePromptCommand(PrintStream out) {
        this.out = out;
    }

    int run(String[] argv) throws IOException {
        Args a = new Args("encode-prompt", argv, VALUED, SWITCHES);
        if (a.has("help")) {
            out.println("""
                    usage: diagonal encode-prompt --prompt TEXT [flags]
                      --text-config umt5-xxl|tiny   encoder config (default umt5-xxl)
                      --text-encoder F[,F...]       checkpoint (random weights otherwise)
                      --tokenizer F|bytes           tokenizer.json or bytes (default bytes)
                      --text-len N                  context rows (default: the config's, 512 for umt5-xxl)
                      --prompt-cache DIR | --no-prompt-cache
                      --threads N --seed N
                      --out F                       default context.safetensors""");
            return 0;
        }
        if (!a.has("prompt") && a.positional().isEmpty()) {
            throw new Args.UsageException("encode-prompt needs --prompt TEXT");
        }
        T5Config config = T5Config.preset(a.string("text-config", "umt5-xxl"));
        TextOptions text = TextOptions.parse(a, config.dim(), a.longValue("seed", 0), null);
        int textLen = a.integer("text-len", config.textLen(), 1, config.textLen());
        Path outPath = Path.of(a.string("out", "context.safetensors"));
        int threads = a.integer("threads", Runtime.getRuntime().availableProcessors(), 1, 1024);
        try (Backend backend = new dev.diagonal.backend.cpu.CpuBackend(threads); Arena arena = Arena.ofShared()) {
            Tensor context = text.context(textLen, backend, arena, out);
            SafetensorsWriter.write(outPath, Map.of("context", context), Map.of("encoder", config.name(), "prompt", text.prompt()));
            out.println("wrote " + outPath + " context " + context);
        }
        return 0;
    }
}
