package dev.diagonal.cli;

import dev.diagonal.io.SafetensorsWriter;
import dev.diagonal.model.dit.RandomParameters;
import dev.diagonal.model.dit.WanKeys;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;

/** {@code diagonal random-weights}: a checkpoint with every parameter of a config, for mmap and speed tests. */
final class RandomWeightsCommand {
    static final Set<String> VALUED = Set.of("config", "weight-dtype", "seed", "out");
    static final Set<String> SWITCHES = Set.of("help");

    private final PrintStream out;

    RandomWeightsCommand(PrintStream out) {
        this.out = out;
    }

    int run(String[] argv) throws IOException {
        Args a = new Args("random-weights", argv, VALUED, SWITCHES);
        if (a.has("help")) {
            out.println("usage: diagonal random-weights [--config tiny|t2v-1.3b] [--weight-dtype f32|bf16|f16] [--seed N] --out F");
            return 0;
        }
        if (!a.has("out")) {
            throw new Args.UsageException("random-weights: --out is required");
        }
        ModelOptions model = ModelOptions.parse(a);
        Path path = Path.of(a.string("out", ""));
        try (Arena arena = Arena.ofShared()) {
            RandomParameters p = RandomParameters.create(model.config(), model.randomDtype(), model.seed(), arena);
            SafetensorsWriter.write(path, p.tensors(), Map.of("config", model.config().name()));
        }
        out.printf("wrote %s: %d parameters of config %s in %s%n", path, WanKeys.parameterCount(model.config()),
                model.config().name(), model.randomDtype());
        return 0;
    }
}
