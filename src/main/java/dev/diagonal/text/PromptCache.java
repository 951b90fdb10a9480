package dev.diagonal.text;

import dev.diagonal.io.SafetensorsFile;
import dev.diagonal.io.SafetensorsWriter;
import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Encoded prompts on disk, one safetensors file ({@code context} [textLen, dim]) per (encoder, tokenizer,
 * length, prompt), so a repeated prompt skips the text encoder (11 GB and seconds for umT5-XXL). Files are
 * written atomically; an unreadable or misshaped entry is treated as absent and rewritten.
 */
public final class PromptCache {
    private final Path dir;

    public PromptCache(Path dir) {
        this.dir = dir;
    }

    /** ~/.cache/diagonal/prompts, or $XDG_CACHE_HOME/diagonal/prompts when set. */
    public static Path defaultDir() {
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return base.resolve("diagonal").resolve("prompts");
    }

    /** The cache key: a hash of everything that changes the encoder's output. */
    public static String key(String encoder, String tokenizer, int textLen, String prompt) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            for (String part : new String[] {encoder, tokenizer, Integer.toString(textLen), prompt}) {
                md.update(part.getBytes(StandardCharsets.UTF_8));
                md.update((byte) 0);
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JDK", e);
        }
    }

    public Path fileFor(String key) {
        return dir.resolve(key + ".safetensors");
    }

    /** The cached context for {@code key} copied into {@code arena}, or null when absent (or unusable). */
    public Tensor lookup(String key, long[] shape, Arena arena) {
        Path f = fileFor(key);
        if (!Files.isRegularFile(f)) {
            return null;
        }
        try (SafetensorsFile file = SafetensorsFile.open(f)) {
            if (!file.names().contains("context")) {
                return null;
            }
            Tensor t = file.tensor("context");
            if (t.dtype() != DType.F32 || !Arrays.equals(t.shape(), shape)) {
                return null;
            }
            Tensor out = Tensor.allocate(arena, DType.F32, shape);
            out.copyFrom(t);
            return out;
        } catch (IOException e) {
            return null;
        }
    }

    /** Stores a context (host F32); the prompt and encoder go into the file's metadata for people reading it. */
    public void store(String key, Tensor context, String encoder, String prompt) throws IOException {
        Files.createDirectories(dir);
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("encoder", encoder);
        meta.put("prompt", prompt);
        SafetensorsWriter.write(fileFor(key), Map.of("context", context), meta);
    }
}
