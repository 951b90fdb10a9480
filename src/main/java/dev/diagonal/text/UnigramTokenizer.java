package dev.diagonal.text;

import dev.diagonal.io.Json;
import dev.diagonal.io.SafetensorsException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A SentencePiece unigram tokenizer (umT5's) read from a HuggingFace tokenizer.json, in pure Java: no native
 * library to ship, and the algorithm is small. Text is cleaned as Wan does, NFKC-normalized, split at
 * whitespace into words that each get the '▁' prefix (Metaspace), and each word is segmented by Viterbi over
 * the vocabulary's pieces maximizing the total log-probability (score).
 *
 * <p>A character no piece covers becomes {@code <unk>} with SentencePiece's penalty (lowest score - 10), and
 * consecutive unknowns merge into one, as SentencePiece does; with byte_fallback they become their UTF-8
 * bytes' {@code <0xNN>} pieces instead.
 *
 * <p>Known gap: umT5's normalizer is a precompiled nmt_nfkc character map; Java's NFKC agrees with it on
 * ordinary text but not on every control or exotic character.
 */
public final class UnigramTokenizer implements Tokenizer {
    private static final long MAX_FILE = 256L << 20;
    private static final int MAX_VOCAB = 10_000_000;
    private static final float UNK_PENALTY = 10f;

    private final String name;
    private final String[] pieces;
    private final float[] scores;
    private final Map<String, Integer> ids;
    private final int maxPieceLength; // in code points
    private final int unkId, eosId, padId;
    private final int[] byteIds; // null without byte fallback
    private final float unkScore;

    UnigramTokenizer(String name, List<String> pieces, List<Float> scores, int unkId, boolean byteFallback, Path file)
            throws TokenizerFileException {
        this.name = name;
        this.pieces = pieces.toArray(String[]::new);
        this.scores = new float[scores.size()];
        this.ids = new HashMap<>(pieces.size() * 2);
        int longest = 1;
        float min = 0;
        for (int i = 0; i < this.pieces.length; i++) {
            this.scores[i] = scores.get(i);
            min = Math.min(min, this.scores[i]);
            ids.putIfAbsent(this.pieces[i], i);
            longest = Math.max(longest, this.pieces[i].codePointCount(0, this.pieces[i].length()));
        }
        this.maxPieceLength = longest;
        this.unkScore = min - UNK_PENALTY;
        if (unkId < 0 || unkId >= this.pieces.length) {
            throw new TokenizerFileException(file, "unk_id " + unkId + " is outside the vocabulary of " + this.pieces.length);
        }
        this.unkId = unkId;
        Integer eos = ids.get("</s>");
        if (eos == null) {
            throw new TokenizerFileException(file, "the vocabulary has no '</s>' piece to end a sequence with");
        }
        this.eosId = eos;
        this.padId = ids.getOrDefault("<pad>", 0);
        if (byteFallback) {
            byteIds = new int[256];
            for (int b = 0; b < 256; b++) {
                Integer id = ids.get(String.format("<0x%02X>", b));
                if (id == null) {
                    throw new TokenizerFileException(file, "byte_fallback is on but piece <0x" + String.format("%02X", b) + "> is missing");
                }
                byteIds[b] = id;
            }
        } else {
            byteIds = null;
        }
    }

    /** Reads a HuggingFace tokenizer.json whose model is Unigram. */
    public static UnigramTokenizer load(Path file) throws IOException {
        long size = Files.size(file);
        if (size > MAX_FILE) {
            throw new TokenizerFileException(file, "is " + size + " bytes, more than a tokenizer.json can sensibly be");
        }
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(Files.readAllBytes(file))).toString();
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new TokenizerFileException(file, "is not UTF-8 text");
        }
        Object root;
        try {
            root = Json.parse(text, file);
        } catch (SafetensorsException e) {
            throw new TokenizerFileException(file, "is not valid JSON (" + e.getMessage() + ")");
        }
        Map<?, ?> model = object(file, root instanceof Map<?, ?> m ? m.get("model") : null, "a 'model' object");
        if (!"Unigram".equals(model.get("type"))) {
            throw new TokenizerFileException(file, "model type is " + model.get("type") + ", only Unigram is supported");
        }
        if (!(model.get("vocab") instanceof List<?> vocab) || vocab.isEmpty() || vocab.size() > MAX_VOCAB) {
            throw new TokenizerFileException(file, "model.vocab must be a list of 1.." + MAX_VOCAB + " [piece, score] pairs");
        }
        List<String> pieces = new ArrayList<>(vocab.size());
        List<Float> scores = new ArrayList<>(vocab.size());
        for (int i = 0; i < vocab.size(); i++) {
            if (!(vocab.get(i) instanceof List<?> pair) || pair.size() != 2 || !(pair.get(0) instanceof String piece)
                    || piece.isEmpty()) {
                throw new TokenizerFileException(file, "model.vocab[" + i + "] is not a [non-empty piece, score] pair");
            }
            pieces.add(piece);
            scores.add(number(file, pair.get(1), "model.vocab[" + i + "] score"));
        }
        Object unk = model.get("unk_id");
        if (!(unk instanceof Long unkId)) {
            throw new TokenizerFileException(file, "model.unk_id must be an integer");
        }
        boolean byteFallback = Boolean.TRUE.equals(model.get("byte_fallback"));
        return new UnigramTokenizer("unigram:" + file.getFileName(), pieces, scores,
                (int) Math.max(-1, Math.min(Integer.MAX_VALUE, unkId)), byteFallback, file);
    }

    private static Map<?, ?> object(Path file, Object o, String what) throws TokenizerFileException {
        if (o instanceof Map<?, ?> m) {
            return m;
        }
        throw new TokenizerFileException(file, "has no " + what);
    }

    private static float number(Path file, Object o, String what) throws TokenizerFileException {
        double v;
        if (o instanceof Long l) {
            v = l;
        } else if (o instanceof Json.Num n) {
            try {
                v = Double.parseDouble(n.text());
            } catch (NumberFormatException e) {
                throw new TokenizerFileException(file, what + " is not a number");
            }
        } else {
            throw new TokenizerFileException(file, what + " is not a number");
        }
        if (!Double.isFinite(v) || Math.abs(v) > 1e30) {
            throw new TokenizerFileException(file, what + " is " + v);
        }
        return (float) v;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public int vocabSize() {
        return pieces.length;
    }

    @Override
    public int padId() {
        return padId;
    }

    @Override
    public int eosId() {
        return eosId;
    }

    /** The piece with id {@code id} (for tests and debugging). */
    public String piece(int id) {
        return pieces[id];
    }

    @Override
    public Encoding encode(String text, int maxLength) {
        String clean = Normalizer.normalize(PromptText.clean(text), Normalizer.Form.NFKC);
        List<Integer> out = new ArrayList<>();
        for (String word : clean.split(" ")) {
            if (!word.isEmpty()) {
                segment("\u2581" + word, out);
            }
        }
        return Encoding.fit(out.stream().mapToInt(Integer::intValue).toArray(), eosId, maxLength);
    }

    /** Viterbi over the word's code points; appends the best segmentation's ids. */
    void segment(String word, List<Integer> out) {
        int[] cps = word.codePoints().toArray();
        int n = cps.length;
        int[] offsets = new int[n + 1]; // char offset of each code point boundary
        for (int i = 0; i < n; i++) {
            offsets[i + 1] = offsets[i] + Character.charCount(cps[i]);
        }
        double[] best = new double[n + 1];
        int[] from = new int[n + 1];
        int[] piece = new int[n + 1];
        java.util.Arrays.fill(best, Double.NEGATIVE_INFINITY);
        best[0] = 0;
        for (int end = 1; end <= n; end++) {
            for (int start = Math.max(0, end - maxPieceLength); start < end; start++) {
                if (best[start] == Double.NEGATIVE_INFINITY) {
                    continue;
                }
                Integer id = ids.get(word.substring(offsets[start], offsets[end]));
                if (id != null && best[start] + scores[id] > best[end]) {
                    best[end] = best[start] + scores[id];
                    from[end] = start;
                    piece[end] = id;
                }
            }
            // A single code point no piece covers: unknown, at a penalty so any real piece wins.
            if (best[end - 1] != Double.NEGATIVE_INFINITY && !ids.containsKey(word.substring(offsets[end - 1], offsets[end]))
                    && best[end - 1] + unkScore > best[end]) {
                best[end] = best[end - 1] + unkScore;
                from[end] = end - 1;
                piece[end] = -1;
            }
        }
        List<int[]> path = new ArrayList<>(); // (start, end, id)
        for (int end = n; end > 0; end = from[end]) {
            path.add(new int[] {from[end], end, piece[end]});
        }
        boolean lastUnk = false;
        for (int i = path.size() - 1; i >= 0; i--) {
            int[] p = path.get(i);
            if (p[2] >= 0) {
                out.add(p[2]);
                lastUnk = false;
            } else if (byteIds != null) {
                for (byte b : word.substring(offsets[p[0]], offsets[p[1]]).getBytes(StandardCharsets.UTF_8)) {
                    out.add(byteIds[b & 0xff]);
                }
            } else if (!lastUnk) {
                out.add(unkId);
                lastUnk = true;
            }
        }
    }
}
