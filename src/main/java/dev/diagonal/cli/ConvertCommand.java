package dev.diagonal.cli;

import dev.diagonal.io.SafetensorsWriter;
import dev.diagonal.io.Weights;
import dev.diagonal.model.Family;
import dev.diagonal.model.LoraMerge;
import dev.diagonal.model.dit.ParameterSource;
import dev.diagonal.tensor.Tensor;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * {@code diagonal convert IN OUT.safetensors}: a checkpoint (PyTorch .pt/.pth or safetensors) rewritten as
 * safetensors under the names the engine uses (the chosen nested state dict, prefixes dropped), dtypes kept, so
 * it loads by a plain mmap from then on. With a family that ships a LoRA, {@code --lora F} writes the merged model.
 */
final class ConvertCommand {
    static final Set<String> VALUED = Set.of("family", "lora", "state-dict");
    static final Set<String> SWITCHES = Set.of("help");

    private final PrintStream out;

    ConvertCommand(PrintStream out) {
        this.out = out;
    }

    int run(String[] argv) throws IOException {
        Args a = new Args("convert", argv, VALUED, SWITCHES);
        if (a.has("help")) {
            out.println("""
                    usage: diagonal convert IN OUT.safetensors [flags]
                      IN                   a PyTorch checkpoint (.pt/.pth, read without running its pickle) or safetensors
                      --family NAME        self-forcing|causvid|longlive|diagonal|krea: which nested state dict to take
                      --state-dict KEY     take the state dict nested under KEY (overrides the family's choice)
                      --lora F             merge the family's LoRA adapter (longlive, diagonal) into the output""");
            return 0;
        }
        if (a.positional().size() != 2) {
            throw new Args.UsageException("convert takes IN and OUT.safetensors, got " + a.positional().size() + " paths");
        }
        Path in = Path.of(a.positional().get(0));
        Path target = Path.of(a.positional().get(1));
        if (Files.exists(target) && Files.isSameFile(in, target)) {
            throw new Args.UsageException("convert: OUT must differ from IN");
        }
        Family family = a.has("family") ? Family.preset(a.string("family", "")) : null;
        List<String> stateDicts = a.has("state-dict") ? List.of(a.string("state-dict", ""))
                : family != null ? family.stateDicts() : List.of();
        Path lora = a.has("lora") ? Path.of(a.string("lora", "")) : null;
        if (lora != null && (family == null || family.lora() == null)) {
            throw new Args.UsageException("--lora needs a --family whose release uses a LoRA (longlive, diagonal)");
        }
        long t0 = System.nanoTime();
        try (Weights w = Weights.open(List.of(in), stateDicts); Arena arena = Arena.ofShared()) {
            w.notes().forEach(n -> out.println("convert: " + n));
            ParameterSource source = ParameterSource.of(w);
            if (lora != null) {
                try (Weights adapter = Weights.open(List.of(lora), List.of(family.lora().stateDict()))) {
                    source = LoraMerge.merge(source, adapter, family.lora().rank(), family.lora().scale(), arena);
                }
                out.println("convert: merged LoRA " + lora + " (rank " + family.lora().rank() + ", alpha "
                        + family.lora().alpha() + ")");
            }
            Map<String, Tensor> tensors = new TreeMap<>();
            long bytes = 0;
            for (String name : w.names()) {
                Tensor t = source.get(name, w.info(name).shape()); // views of the mapping: written without copies
                tensors.put(name, t);
                bytes += t.byteSize();
            }
            Map<String, String> meta = new LinkedHashMap<>();
            meta.put("converted_from", String.valueOf(in.getFileName()));
            if (!w.notes().isEmpty()) {
                meta.put("source", String.join("; ", w.notes()));
            }
            if (lora != null) {
                meta.put("lora", lora.getFileName() + " rank " + family.lora().rank() + " alpha " + family.lora().alpha());
            }
            SafetensorsWriter.write(target, tensors, meta);
            out.printf("convert: wrote %d tensors (%.1f MB) to %s in %.1f s%n", tensors.size(), bytes / 1e6, target,
                    (System.nanoTime() - t0) / 1e9);
        }
        return 0;
    }
}
