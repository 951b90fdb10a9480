package dev.diagonal.serve;

import dev.diagonal.backend.Backend;
import dev.diagonal.io.Weights;
import dev.diagonal.model.ModelBundle;
import dev.diagonal.model.dit.ParameterSource;
import dev.diagonal.model.dit.TextContext;
import dev.diagonal.model.dit.WanDiT;
import dev.diagonal.model.t5.T5Encoder;
import dev.diagonal.model.vae.VaeKeys;
import dev.diagonal.model.vae.WanVaeDecoder;
import dev.diagonal.schedule.ContextRule;
import dev.diagonal.schedule.DiagonalSchedule;
import dev.diagonal.stream.StreamSettings;
import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;
import dev.diagonal.text.ByteTokenizer;
import dev.diagonal.text.Encoding;
import dev.diagonal.text.Tokenizer;
import dev.diagonal.text.UnigramTokenizer;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A model directory loaded once for every stream of a server: the DiT, the VAE decoder and the text encoder,
 * all three resident (the default model's are a few MB), so a prompt switch costs one encoder pass and no I/O.
 *
 * <p>The model holds no per-stream state, but the CPU backend's thread pool runs one op at a time, so streams
 * take turns chunk by chunk through {@link #turn()}, a fair lock: each waiting stream gets the next chunk in
 * arrival order, and none can starve another.
 */
public final class ServeModel implements AutoCloseable {
    private final ModelBundle bundle;
    private final Backend backend;
    private final Weights ditWeights;
    private final Weights vaeWeights;
    private final Weights textWeights;
    private final Arena arena;
    private final WanDiT dit;
    private final WanVaeDecoder decoder;
    private final T5Encoder encoder;
    private final Tokenizer tokenizer;
    private final ReentrantLock turn = new ReentrantLock(true);

    private ServeModel(ModelBundle bundle, Backend backend, Weights ditWeights, Weights vaeWeights, Weights textWeights,
                       Arena arena, WanDiT dit, WanVaeDecoder decoder, T5Encoder encoder, Tokenizer tokenizer) {
        this.bundle = bundle;
        this.backend = backend;
        this.ditWeights = ditWeights;
        this.vaeWeights = vaeWeights;
        this.textWeights = textWeights;
        this.arena = arena;
        this.dit = dit;
        this.decoder = decoder;
        this.encoder = encoder;
        this.tokenizer = tokenizer;
    }

    /** Maps and loads the three checkpoints of {@code bundle} onto {@code backend} (which the caller owns). */
    public static ServeModel open(ModelBundle bundle, Backend backend) throws IOException {
        Weights dw = null, vw = null, tw = null;
        Arena arena = Arena.ofShared();
        try {
            dw = Weights.open(java.util.List.of(bundle.ditFile()));
            vw = Weights.open(java.util.List.of(bundle.vaeFile()));
            tw = Weights.open(java.util.List.of(bundle.textFile()));
            WanDiT dit = WanDiT.load(bundle.dit(), ParameterSource.of(dw), backend, arena);
            WanVaeDecoder decoder = WanVaeDecoder.load(bundle.vae(), VaeKeys.decoderSide(vw), backend, arena);
            T5Encoder encoder = T5Encoder.load(bundle.text(), ParameterSource.of(tw), backend, arena);
            Tokenizer tok = bundle.tokenizer().equals("bytes") ? new ByteTokenizer()
                    : UnigramTokenizer.load(bundle.dir().resolve(bundle.tokenizer()));
            return new ServeModel(bundle, backend, dw, vw, tw, arena, dit, decoder, encoder, tok);
        } catch (IOException | RuntimeException | Error e) {
            arena.close();
            for (Weights w : new Weights[]{dw, vw, tw}) {
                if (w != null) {
                    w.close();
                }
            }
            throw e;
        }
    }

    /**
     * The prompt as the DiT reads it, encoded into {@code arena} (the caller's: a stream frees a prompt's
     * context when it switches away from it). Call while holding {@link #turn()}.
     */
    public TextContext encode(String prompt, Arena arena) {
        int len = Math.min(dit.config().textLen(), bundle.text().textLen());
        Encoding enc = tokenizer.encode(prompt, len);
        Tensor context = Tensor.allocate(arena, DType.F32, dit.config().textLen(), dit.config().textDim());
        try (Arena scratch = Arena.ofShared()) {
            Tensor full = encoder.encode(enc.ids(), scratch);
            Tensor host = Tensor.allocate(scratch, DType.F32, full.shape());
            backend.copy(full, host);
            context.rows(0, len).copyFrom(host.rows(0, len));
        }
        return dit.encodeText(context, arena);
    }

    /**
     * The stream the model was distilled for (latent size, chunking, schedule, context rule, cache window),
     * {@code chunks} long. A stream past the RoPE table's length is served as several of these.
     */
    public StreamSettings settings(int chunks) {
        ModelBundle.Stream s = bundle.stream();
        return new StreamSettings(chunks, s.chunkFrames(), s.latentHeight(), s.latentWidth(),
                DiagonalSchedule.parse(s.schedule()), ContextRule.parse(s.context()), s.window(), s.sink());
    }

    /** The most chunks one {@link dev.diagonal.stream.ChunkStream} can run: absolute RoPE positions end there. */
    public int maxChunksPerSegment() {
        return StreamSettings.MAX_FRAMES / bundle.stream().chunkFrames();
    }

    /** The lock streams take turns on, one chunk (DiT and decode) at a time. */
    public ReentrantLock turn() {
        return turn;
    }

    public WanDiT dit() {
        return dit;
    }

    public WanVaeDecoder decoder() {
        return decoder;
    }

    public ModelBundle bundle() {
        return bundle;
    }

    public int fps() {
        return bundle.stream().fps();
    }

    public int width() {
        return bundle.stream().latentWidth() * bundle.vae().spatialScale();
    }

    public int height() {
        return bundle.stream().latentHeight() * bundle.vae().spatialScale();
    }

    /** The model directory, for logs. */
    public Path dir() {
        return bundle.dir();
    }

    @Override
    public void close() {
        arena.close();
        ditWeights.close();
        vaeWeights.close();
        textWeights.close();
    }
}
