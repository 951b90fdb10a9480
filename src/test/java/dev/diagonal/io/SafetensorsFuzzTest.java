package dev.diagonal.io;

import dev.diagonal.io.SafetensorsException.Reason;
import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Fuzzes the reader: any bytes as a file must either open (and then every view is in bounds and shows the
 * file's bytes, see {@link ReaderProperty}) or fail with a SafetensorsException; anything else is a bug.
 *
 * <p>Every build replays the seed corpus in {@code src/test/resources/dev/diagonal/io/SafetensorsFuzzTestInputs/
 * openArbitraryBytes/} and runs a short seeded mutation campaign (reproducible: a failure prints its iteration).
 * A longer campaign with a new seed:
 * <pre>
 *   mvn -o test -Dtest=SafetensorsFuzzTest -Ddiagonal.fuzz.iterations=1000000 -Ddiagonal.fuzz.seed=$RANDOM
 * </pre>
 * Jazzer's coverage-guided {@code @FuzzTest} was tried and dropped: jazzer 0.24.0's bundled ASM cannot read
 * Java 25 class files (major version 69), so it fuzzed blind and logged a stack trace per class on every run.
 * The corpus keeps Jazzer's directory layout so a later Jazzer can pick it up unchanged.
 */
class SafetensorsFuzzTest {
    private static final String CORPUS = "SafetensorsFuzzTestInputs/openArbitraryBytes/";
    private static final Map<String, Reason> BAD_SEEDS = Map.of("bad_overlap", Reason.OVERLAP,
            "bad_truncated_data", Reason.OUT_OF_BOUNDS, "bad_json", Reason.BAD_JSON, "bad_shape_float", Reason.BAD_SHAPE,
            "bad_duplicate", Reason.DUPLICATE_KEY, "bad_header_length", Reason.HEADER_TOO_LARGE,
            "bad_short", Reason.TRUNCATED_HEADER);
    private static final List<String> VALID_SEEDS = List.of("valid_f32", "valid_mixed", "valid_gaps", "valid_empty");

    @TempDir
    Path dir;

    /** The seeds are what their names say, so the corpus keeps covering both the happy and the failing paths. */
    @Test
    void seedCorpusIsWhatItsNamesSay() throws IOException {
        for (String valid : VALID_SEEDS) {
            assertEquals(null, ReaderProperty.check(dir.resolve(valid), seed(valid)), valid);
        }
        for (Map.Entry<String, Reason> e : BAD_SEEDS.entrySet()) {
            Path p = RawFiles.write(dir, e.getKey(), seed(e.getKey()));
            SafetensorsException ex = assertThrows(SafetensorsException.class, () -> SafetensorsFile.open(p), e.getKey());
            assertEquals(e.getValue(), ex.reason(), ex.getMessage());
        }
    }

    @Test
    void mutatedFilesOpenCleanlyOrFailWithSafetensorsException() throws IOException {
        long iterations = Long.getLong("diagonal.fuzz.iterations", 2000);
        long seed = Long.getLong("diagonal.fuzz.seed", 20250101L);
        List<byte[]> bases = bases();
        Mutator mutator = new Mutator(seed);
        java.util.Random pick = new java.util.Random(seed ^ 0x5DEECE66DL);
        Path file = dir.resolve("input.safetensors");
        Map<Reason, Integer> reasons = new EnumMap<>(Reason.class);
        int opened = 0;
        long start = System.nanoTime();
        for (long i = 0; i < iterations; i++) {
            byte[] input = mutator.mutate(bases.get(pick.nextInt(bases.size())), bases.get(pick.nextInt(bases.size())));
            Reason reason;
            try {
                reason = ReaderProperty.check(file, input);
            } catch (RuntimeException | Error | IOException e) {
                Path kept = dir.getParent().resolve("fuzz-failure-" + seed + "-" + i + ".safetensors");
                Files.write(kept, input);
                throw new AssertionError("iteration " + i + " (seed " + seed + ", input kept in " + kept + ")", e);
            }
            if (reason == null) {
                opened++;
            } else {
                reasons.merge(reason, 1, Integer::sum);
            }
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        System.out.printf("fuzz: %d inputs in %.1f s, %d opened, failures by reason %s%n", iterations, seconds,
                opened, reasons);
        if (iterations >= 2000) {
            // The mutations must reach past the JSON syntax into the semantic checks, or the campaign tests little.
            assertTrue(opened > 0, "no mutated input opened");
            for (Reason r : List.of(Reason.BAD_JSON, Reason.HEADER_TOO_LARGE, Reason.BAD_SHAPE, Reason.BAD_OFFSETS,
                    Reason.SIZE_MISMATCH, Reason.OUT_OF_BOUNDS, Reason.UNKNOWN_DTYPE)) {
                assertTrue(reasons.containsKey(r), "no mutated input reached " + r + ": " + reasons);
            }
        }
    }

    /** The valid seeds plus a few files from the writer with every dtype, so mutations start from real layouts. */
    private List<byte[]> bases() throws IOException {
        List<byte[]> bases = new ArrayList<>();
        for (String s : VALID_SEEDS) {
            bases.add(seed(s));
        }
        bases.add(seed("bad_overlap"));
        try (Arena arena = Arena.ofConfined()) {
            Map<String, Tensor> all = new TreeMap<>();
            int k = 0;
            for (DType d : DType.values()) {
                Tensor t = Tensor.allocate(arena, d, 2, k % 3 + 1);
                for (long i = 0; i < t.byteSize(); i++) {
                    t.data().set(ValueLayout.JAVA_BYTE, i, (byte) (i + k));
                }
                all.put("layer." + k++ + "." + d.name().toLowerCase(), t);
            }
            all.put("zero", Tensor.allocate(arena, DType.F32, 0, 3));
            Path p = dir.resolve("writer.safetensors");
            SafetensorsWriter.write(p, all, Map.of("format", "pt"));
            bases.add(Files.readAllBytes(p));
        }
        return bases;
    }

    static byte[] seed(String name) throws IOException {
        try (InputStream in = SafetensorsFuzzTest.class.getResourceAsStream(CORPUS + name)) {
            assertNotNull(in, "seed " + name);
            return in.readAllBytes();
        }
    }
}
