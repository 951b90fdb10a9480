package dev.diagonal.text;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The unigram tokenizer on a hand-made vocabulary: hand-checked segmentations in several scripts, Viterbi
 * against an exhaustive search over all segmentations, unknowns, byte fallback, truncation, and every kind
 * of broken tokenizer.json.
 */
class UnigramTokenizerTest {
    // id: 0 <pad>, 1 </s>, 2 <unk>, then pieces with log-probabilities
    private static final Object[][] VOCAB = {
            {"<pad>", 0.0}, {"</s>", 0.0}, {"<unk>", 0.0},
            {"\u2581", -2.0}, {"\u2581a", -3.0}, {"\u2581red", -4.0}, {"\u2581re", -5.0}, {"d", -4.5},
            {"\u2581circle", -6.0}, {"\u2581circ", -5.0}, {"le", -2.5}, {"l", -4.0}, {"e", -4.0},
            {"\u2581moving", -7.0}, {"\u2581mov", -4.0}, {"ing", -3.5}, {"i", -5.0}, {"n", -5.0}, {"g", -5.0},
            {"r", -5.0}, {"c", -5.0}, {"a", -5.0}, {"m", -5.0}, {"o", -5.0}, {"v", -5.0},
            {"\u2581\u043a\u0440\u0443\u0433", -6.0}, {"\u043a", -6.0}, {"\u0440", -6.0},
            {"\u2581\u7ea2", -5.0}, {"\u8272", -5.0}, {"\u2581\u5186", -5.0}, {"\u2581caf\u00e9", -6.0},
            {"\u2581\ud83d\udd34", -6.0}, {"\u2581\u0623", -6.0}, {"\u0628", -6.0}, {"fi", -6.0}};

    @TempDir
    Path dir;

    @Test
    void handCheckedSegmentations() throws IOException {
        UnigramTokenizer t = UnigramTokenizer.load(write(VOCAB, false));
        assertEquals(List.of("\u2581a", "\u2581red", "\u2581circle", "\u2581moving", "</s>"), pieces(t, "a red circle moving"));
        // ▁mov + ing (-7.5) beats ▁moving (-7.0)? No: -7.0 > -7.5, so the whole word wins.
        assertEquals(List.of("\u2581moving", "</s>"), pieces(t, "moving"));
        // ▁re + d (-9.5) loses to ▁red (-4.0); "▁redd" needs ▁red + d.
        assertEquals(List.of("\u2581red", "d", "</s>"), pieces(t, "redd"));
        assertEquals(List.of("\u2581\u043a\u0440\u0443\u0433", "</s>"), pieces(t, "\u043a\u0440\u0443\u0433")); // Cyrillic
        assertEquals(List.of("\u2581\u7ea2", "\u8272", "</s>"), pieces(t, "\u7ea2\u8272"));                      // Chinese
        assertEquals(List.of("\u2581\u5186", "</s>"), pieces(t, "\u5186"));                                     // Japanese
        assertEquals(List.of("\u2581\u0623", "\u0628", "</s>"), pieces(t, "\u0623\u0628"));                     // Arabic
        assertEquals(List.of("\u2581\ud83d\udd34", "</s>"), pieces(t, "\ud83d\udd34"));                         // emoji
        // NFKC: a decomposed é composes; the ligature ﬁ becomes "fi"
        assertEquals(List.of("\u2581caf\u00e9", "</s>"), pieces(t, "cafe\u0301"));
        assertEquals(List.of("\u2581", "fi", "</s>"), pieces(t, "\ufb01"));
        // whitespace of any kind collapses; entities unescape (twice, as Wan does)
        assertEquals(pieces(t, "a red"), pieces(t, "  a\t\n red\u3000 "));
        assertEquals(pieces(t, "a red"), pieces(t, "a&amp;nbsp;red"));
    }

    @Test
    void unknownsMergeOrFallBackToBytes() throws IOException {
        UnigramTokenizer t = UnigramTokenizer.load(write(VOCAB, false));
        // "▁" then three characters no piece covers: one <unk>, as SentencePiece merges them
        assertEquals(List.of("\u2581", "<unk>", "</s>"), pieces(t, "xyz"));
        assertEquals(List.of("\u2581a", "\u2581", "<unk>", "a", "<unk>", "</s>"), pieces(t, "a xya\u00df"));
        Object[][] withBytes = Arrays.copyOf(VOCAB, VOCAB.length + 256);
        for (int b = 0; b < 256; b++) {
            withBytes[VOCAB.length + b] = new Object[] {String.format("<0x%02X>", b), -20.0};
        }
        UnigramTokenizer tb = UnigramTokenizer.load(write(withBytes, true));
        assertEquals(List.of("\u2581", "<0x78>", "<0xC3>", "<0x9F>", "</s>"), pieces(tb, "x\u00df"));
    }

    @Test
    void viterbiFindsTheBestOfAllSegmentations() throws IOException {
        UnigramTokenizer t = UnigramTokenizer.load(write(VOCAB, false));
        String alphabet = "\u2581aredclmoving";
        Random rnd = new Random(9);
        for (int trial = 0; trial < 300; trial++) {
            StringBuilder w = new StringBuilder("\u2581");
            for (int i = rnd.nextInt(8); i > 0; i--) {
                w.append(alphabet.charAt(1 + rnd.nextInt(alphabet.length() - 1)));
            }
            List<Integer> got = new ArrayList<>();
            t.segment(w.toString(), got);
            double best = bruteForce(w.toString(), 0);
            assertEquals(best, score(got), 1e-4, "word " + w + " -> " + got);
        }
    }

    @Test
    void truncatesKeepingEosAndSaysSo() throws IOException {
        UnigramTokenizer t = UnigramTokenizer.load(write(VOCAB, false));
        Encoding e = t.encode("a red circle moving a red", 4);
        assertArrayEquals(new int[] {4, 5, 8, 1}, e.ids());
        assertTrue(e.truncated());
        assertEquals(7, e.tokens());
        assertTrue(e.truncationWarning().contains("kept the first 4"));
        Encoding empty = t.encode("   ", 16);
        assertArrayEquals(new int[] {1}, empty.ids());
        assertFalse(empty.truncated());
        assertNull(empty.truncationWarning());
        assertEquals(List.of("\u2581", "<unk>", "</s>"), pieces(t, "\ud800x")); // an unpaired surrogate is U+FFFD
    }

    @Test
    void brokenFilesAreNamedWithTheirProblem() throws IOException {
        assertProblem("{not json", "not valid JSON");
        assertProblem("{\"model\": {\"type\": \"BPE\"}}", "only Unigram");
        assertProblem("{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}", "model.vocab");
        assertProblem("{\"model\": {\"type\": \"Unigram\", \"unk_id\": 0, \"vocab\": [[\"a\", \"x\"]]}}", "score is not a number");
        assertProblem("{\"model\": {\"type\": \"Unigram\", \"unk_id\": 0, \"vocab\": [[\"a\", -1.0, 3]]}}", "vocab[0]");
        assertProblem("{\"model\": {\"type\": \"Unigram\", \"unk_id\": 5, \"vocab\": [[\"</s>\", 0.0]]}}", "unk_id 5");
        assertProblem("{\"model\": {\"type\": \"Unigram\", \"unk_id\": 0, \"vocab\": [[\"a\", 0.0]]}}", "'</s>'");
        assertProblem("{\"model\": {\"type\": \"Unigram\", \"unk_id\": 0, \"byte_fallback\": true, \"vocab\": [[\"</s>\", 0.0]]}}",
                "<0x00>");
        Path bad = dir.resolve("latin1.json");
        Files.write(bad, new byte[] {'{', (byte) 0xe9, '}'});
        assertTrue(assertThrows(TokenizerFileException.class, () -> UnigramTokenizer.load(bad)).getMessage().contains("UTF-8"));
    }

    @Test
    void fuzzedFilesFailOnlyWithTokenizerFileException() throws IOException {
        byte[] good = Files.readAllBytes(write(VOCAB, false));
        Random rnd = new Random(17);
        int failures = 0;
        for (int i = 0; i < 400; i++) {
            byte[] b = good.clone();
            for (int m = 1 + rnd.nextInt(4); m > 0; m--) {
                int at = rnd.nextInt(b.length);
                switch (rnd.nextInt(3)) {
                    case 0 -> b[at] = (byte) rnd.nextInt(256);
                    case 1 -> b = Arrays.copyOf(b, at);
                    default -> b[at] = "[]{}\",:0-e".getBytes(StandardCharsets.US_ASCII)[rnd.nextInt(10)];
                }
                if (b.length == 0) {
                    break;
                }
            }
            Path f = dir.resolve("fuzz.json");
            Files.write(f, b);
            try {
                UnigramTokenizer t = UnigramTokenizer.load(f);
                t.encode("a red circle \u7ea2 xyz", 32); // whatever loaded must also encode
            } catch (TokenizerFileException e) {
                failures++;
            }
        }
        assertTrue(failures > 100, "mutations should mostly break the file: " + failures);
    }

    private void assertProblem(String json, String expected) throws IOException {
        Path f = dir.resolve("t.json");
        Files.writeString(f, json);
        String m = assertThrows(TokenizerFileException.class, () -> UnigramTokenizer.load(f)).getMessage();
        assertTrue(m.contains(expected) && m.contains("t.json"), m);
    }

    private static List<String> pieces(UnigramTokenizer t, String text) {
        List<String> out = new ArrayList<>();
        for (int id : t.encode(text, 64).ids()) {
            out.add(t.piece(id));
        }
        return out;
    }

    private static double score(List<Integer> ids) {
        double s = 0;
        for (int id : ids) {
            s += ((Number) VOCAB[id][1]).doubleValue();
        }
        return s;
    }

    // Best total score over every way to cut w[from..] into vocabulary pieces (-inf if none).
    private static double bruteForce(String w, int from) {
        if (from == w.length()) {
            return 0;
        }
        double best = Double.NEGATIVE_INFINITY;
        for (int end = from + 1; end <= w.length(); end++) {
            for (Object[] p : VOCAB) {
                if (p[0].equals(w.substring(from, end))) {
                    best = Math.max(best, ((Number) p[1]).doubleValue() + bruteForce(w, end));
                }
            }
        }
        return best;
    }

    private Path write(Object[][] vocab, boolean byteFallback) throws IOException {
        StringBuilder b = new StringBuilder("{\"version\": \"1.0\", \"model\": {\"type\": \"Unigram\", \"unk_id\": 2, ");
        b.append("\"byte_fallback\": ").append(byteFallback).append(", \"vocab\": [");
        for (int i = 0; i < vocab.length; i++) {
            b.append(i > 0 ? ", " : "").append("[\"").append(vocab[i][0]).append("\", ").append(vocab[i][1]).append("]");
        }
        Path f = dir.resolve(byteFallback ? "bytes.json" : "tokenizer.json");
        Files.writeString(f, b.append("]}}").toString());
        return f;
    }
}
