package dev.diagonal.cli;

import dev.diagonal.io.SafetensorsWriter;
import dev.diagonal.model.dit.RandomParameters;
import dev.diagonal.model.dit.WanConfig;
import dev.diagonal.model.dit.WanKeys;
import dev.diagonal.model.t5.T5Config;
import dev.diagonal.model.t5.T5Keys;
import dev.diagonal.model.vae.VaeConfig;
import dev.diagonal.model.vae.VaeKeys;
import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;

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
            out.println("usage: diagonal random-weights [--config C] [--weight-dtype f32|bf16|f16] [--seed N] --out F\n"
                    + "  C: tiny | t2v-1.3b (DiT), umt5-xxl | t5-tiny (text encoder), wan2.1-vae | vae-tiny (VAE decoder)");
            return 0;
        }
        if (!a.has("out")) {
            throw new Args.UsageException("random-weights: --out is required");
        }
        String name = a.string("config", "tiny");
        DType dtype = ModelOptions.parse(withoutConfig(a, argv)).randomDtype();
        long seed = a.longValue("seed", 0);
        Map<String, long[]> keys;
        double modulationStd = 0;
        switch (name) {
            case "umt5-xxl", "t5-tiny" -> keys = T5Keys.of(T5Config.preset(name.equals("t5-tiny") ? "tiny" : name));
            case "wan2.1-vae" -> keys = VaeKeys.of(VaeConfig.WAN_2_1);
            case "vae-tiny" -> keys = VaeKeys.of(VaeConfig.TINY);
            default -> {
                WanConfig c = WanConfig.preset(name);
                keys = WanKeys.of(c);
                modulationStd = 1 / Math.sqrt(c.dim());
            }
        }
        Path path = Path.of(a.string("out", ""));
        long count;
        try (Arena arena = Arena.ofShared()) {
            RandomParameters p = RandomParameters.create(keys, dtype, seed, modulationStd, arena);
            count = p.tensors().values().stream().mapToLong(Tensor::numel).sum();
            SafetensorsWriter.write(path, p.tensors(), Map.of("config", name));
        }
        out.printf("wrote %s: %d parameters of config %s in %s%n", path, count, name, dtype);
        return 0;
    }

    // The dtype flag is parsed by ModelOptions, whose --config knows DiT configs only.
    private static Args withoutConfig(Args a, String[] argv) {
        java.util.List<String> rest = new java.util.ArrayList<>();
        for (int i = 0; i < argv.length; i++) {
            if (argv[i].equals("--config")) {
                i++;
            } else if (!argv[i].startsWith("--config=")) {
                rest.add(argv[i]);
            }
        }
        return new Args("random-weights", rest.toArray(String[]::new), VALUED, SWITCHES);
    }
}
