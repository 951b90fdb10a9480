package dev.diagonal.cli;

import dev.diagonal.backend.Backend;
import dev.diagonal.io.Weights;
import dev.diagonal.model.ModelBundle;
import dev.diagonal.model.dit.ParameterSource;
import dev.diagonal.model.dit.RandomParameters;
import dev.diagonal.model.t5.T5Config;
import dev.diagonal.model.t5.T5Encoder;
import dev.diagonal.model.t5.T5Keys;
import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;
import dev.diagonal.text.ByteTokenizer;
import dev.diagonal.text.Encoding;
import dev.diagonal.text.PromptCache;
import dev.diagonal.text.Tokenizer;
import dev.diagonal.text.UnigramTokenizer;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;

/**
 * A prompt and how to encode it: text encoder config and checkpoint (random weights otherwise), tokenizer,
 * prompt cache. The encoder is loaded only on a cache miss and released right after encoding, so the
 * 11 GB umT5-XXL is never resident while the DiT runs.
 */
record TextOptions(String prompt, T5Config config, List<Path> encoderFiles, String tokenizer, Path cacheDir, long seed) {
    static final Set<String> VALUED = Set.of("prompt", "text-encoder", "text-config", "tokenizer", "prompt-cache");
    static final Set<String> SWITCHES = Set.of("no-prompt-cache");

    /**
     * The prompt options, or null when no prompt text was given (--prompt, or the command's first word). A
     * model directory brings its own encoder and tokenizer, and no prompt means the empty prompt (what its
     * training fed for a dropped caption), not an all-zero context.
     */
    static TextOptions parse(Args a, int textDim, long seed, ModelBundle bundle) {
        String prompt = a.has("prompt") ? a.string("prompt", "") : a.positional().isEmpty() ? null : String.join(" ", a.positional());
        if (prompt == null && (bundle == null || a.has("prompt-embedding"))) {
            return null;
        }
        if (a.has("prompt-embedding")) {
            throw new Args.UsageException("give either prompt text or --prompt-embedding, not both");
        }
        if (bundle != null && !a.has("text-config") && !a.has("text-encoder") && !a.has("tokenizer")) {
            return new TextOptions(prompt == null ? "" : prompt, bundle.text(), List.of(bundle.textFile()),
                    bundle.tokenizer(), cacheDir(a), seed);
        }
        T5Config config = T5Config.preset(a.string("text-config", textDim == T5Config.UMT5_XXL.dim() ? "umt5-xxl" : "tiny"));
        if (config.dim() != textDim) {
            throw new Args.UsageException("text encoder " + config.name() + " makes width " + config.dim()
                    + " but the DiT reads width " + textDim);
        }
        List<Path> files = new ArrayList<>();
        if (a.has("text-encoder")) {
            for (String f : a.string("text-encoder", "").split(",")) {
                files.add(Path.of(f.trim()));
            }
        }
        return new TextOptions(prompt, config, List.copyOf(files), a.string("tokenizer", "bytes"), cacheDir(a), seed);
    }

    private static Path cacheDir(Args a) {
        return a.has("no-prompt-cache") ? null
                : a.has("prompt-cache") ? Path.of(a.string("prompt-cache", "")) : PromptCache.defaultDir();
    }

    /** The prompt's context [textLen, textDim] (F32, host), from the cache or the encoder. */
    Tensor context(int textLen, Backend backend, Arena arena, PrintStream log) throws IOException {
        Tokenizer tok = tokenizer.equals("bytes") ? new ByteTokenizer() : UnigramTokenizer.load(Path.of(tokenizer));
        if (tok.vocabSize() > config.vocab()) {
            throw new IllegalArgumentException("tokenizer " + tok.name() + " has " + tok.vocabSize()
                    + " ids but text encoder " + config.name() + " only " + config.vocab());
        }
        int len = Math.min(textLen, config.textLen());
        Encoding enc = tok.encode(prompt, len);
        if (enc.truncated()) {
            log.println("prompt: " + enc.truncationWarning());
        }
        long[] shape = {textLen, config.dim()};
        String encoderId = config.name() + "@" + fingerprint();
        String key = PromptCache.key(encoderId, tok.name(), textLen, prompt);
        PromptCache cache = cacheDir == null ? null : new PromptCache(cacheDir);
        if (cache != null) {
            Tensor hit = cache.lookup(key, shape, arena);
            if (hit != null) {
                log.printf("prompt: %d tokens, context from the cache (%s)%n", enc.ids().length, cache.fileFor(key));
                return hit;
            }
        }
        long t0 = System.nanoTime();
        Tensor context = Tensor.allocate(arena, DType.F32, shape);
        try (Weights w = encoderFiles.isEmpty() ? null : Weights.open(encoderFiles); Arena encoderArena = Arena.ofShared()) {
            ParameterSource source = w != null ? ParameterSource.of(w)
                    : RandomParameters.create(T5Keys.of(config), DType.F32, seed, 0, encoderArena);
            T5Encoder encoder = T5Encoder.load(config, source, backend, encoderArena);
            Tensor full = encoder.encode(enc.ids(), encoderArena);
            Tensor host = Tensor.allocate(encoderArena, DType.F32, full.shape());
            backend.copy(full, host);
            context.rows(0, len).copyFrom(host.rows(0, len));
        } // the encoder's weights are unmapped here
        log.printf("prompt: %d tokens encoded by %s%s in %.2f s%n", enc.ids().length, config.name(),
                encoderFiles.isEmpty() ? " (random weights)" : "", (System.nanoTime() - t0) / 1e9);
        if (cache != null) {
            cache.store(key, context, encoderId, prompt);
        }
        return context;
    }

    /** What identifies the encoder's weights: random seed, or each file's size and a hash of its first MiB. */
    private String fingerprint() throws IOException {
        if (encoderFiles.isEmpty()) {
            return "random:" + seed;
        }
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            for (Path f : encoderFiles) {
                md.update(Long.toString(Files.size(f)).getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                try (InputStream in = Files.newInputStream(f)) {
                    md.update(in.readNBytes(1 << 20));
                }
            }
            return HexFormat.of().formatHex(md.digest(), 0, 8);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
