package dev.diagonal.io.torch;

import dev.diagonal.io.torch.TorchFormatException.Reason;
import dev.diagonal.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Fuzzes the PyTorch reader as SafetensorsFuzzTest fuzzes the safetensors one: any mutation of a real checkpoint
 * must either open (and then every tensor's bytes are readable, inside the mapping) or fail with a
 * TorchFormatException; any other exception, a crash or a hang is a bug. Half the mutations edit data.pkl inside
 * the zip and re-zip it, so they reach the unpickler and the tensor checks rather than dying in the zip
 * directory. Seeded and bounded; a longer campaign:
 * <pre>
 *   mvn -o test -Dtest=TorchFuzzTest -Ddiagonal.fuzz.iterations=200000 -Ddiagonal.fuzz.seed=$RANDOM
 * </pre>
 */
class TorchFuzzTest {
    private static final List<String> BASES = List.of("self_forcing.pt", "causvid.pt", "views.pt", "legacy.pt",
            "longlive_lora.pt", "wan_vae.pth");
    /** Opcodes worth splicing in: containers, memo, globals, tensor plumbing, the refused ones. */
    private static final int[] OPCODES = {'(', '.', '0', '1', '2', 'K', 'J', 'M', 'N', 'Q', 'R', 'X', 'a', 'b', 'c',
            'e', 'h', 'j', 'q', 'r', 's', 't', 'u', '}', ']', ')', 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8c, 0x93, 0x94,
            'i', 'o', 0x81, 0x92, 'P', 0xff};

    @TempDir
    Path dir;

    @Test
    void mutatedCheckpointsOpenCleanlyOrFailWithTorchFormatException() throws IOException {
        long iterations = Long.getLong("diagonal.fuzz.iterations", 600);
        long seed = Long.getLong("diagonal.fuzz.seed", 20261202L);
        Random random = new Random(seed);
        List<byte[]> bases = new ArrayList<>();
        Map<byte[], Map<String, byte[]>> unzipped = new java.util.IdentityHashMap<>();
        for (String b : BASES) {
            byte[] bytes = Files.readAllBytes(TorchCheckpointTest.fixture(b));
            bases.add(bytes);
            if (bytes[0] == 'P') {
                unzipped.put(bytes, TorchFiles.unzip(bytes));
            }
        }
        Path file = dir.resolve("input.pt");
        Map<Reason, Integer> reasons = new EnumMap<>(Reason.class);
        int opened = 0;
        for (long i = 0; i < iterations; i++) {
            byte[] base = bases.get(random.nextInt(bases.size()));
            byte[] input = random.nextBoolean() && base[0] == 'P' ? mutatePickle(unzipped.get(base), random)
                    : mutateBytes(base, random);
            Files.write(file, input);
            try (TorchCheckpoint ckpt = TorchCheckpoint.open(file, List.of())) {
                for (String name : ckpt.names()) {
                    Tensor t = ckpt.tensor(name);
                    t.data().toArray(ValueLayout.JAVA_BYTE); // every byte of every view is inside the mapping
                }
                opened++;
            } catch (TorchFormatException e) {
                reasons.merge(e.reason(), 1, Integer::sum);
            } catch (RuntimeException | Error | IOException e) {
                Path kept = dir.getParent().resolve("torch-fuzz-failure-" + seed + "-" + i + ".pt");
                Files.write(kept, input);
                throw new AssertionError("iteration " + i + " (seed " + seed + ", input kept in " + kept + ")", e);
            }
        }
        System.out.printf("torch fuzz: %d inputs, %d opened, failures by reason %s%n", iterations, opened, reasons);
        if (iterations >= 600) {
            assertTrue(opened > 0, "no mutated input opened");
            for (Reason r : List.of(Reason.BAD_ZIP, Reason.BAD_PICKLE, Reason.FORBIDDEN_OPCODE)) {
                assertTrue(reasons.containsKey(r), "no mutated input reached " + r + ": " + reasons);
            }
        }
    }

    /** Blind edits of the whole file: these mostly test the zip directory and local headers. */
    private static byte[] mutateBytes(byte[] b, Random random) {
        byte[] out = b.clone();
        switch (random.nextInt(5)) {
            case 0 -> out[random.nextInt(out.length)] ^= (byte) (1 << random.nextInt(8));
            case 1 -> out[random.nextInt(out.length)] = (byte) random.nextInt(256);
            case 2 -> out = Arrays.copyOf(out, random.nextInt(out.length));
            case 3 -> {
                // Overwrite a 4-byte little-endian field with an extreme value (sizes, offsets, counts).
                int at = random.nextInt(Math.max(1, out.length - 4));
                int v = new int[]{0, -1, 0x7FFFFFFF, 0x80000000, 1, out.length}[random.nextInt(6)];
                for (int k = 0; k < 4; k++) {
                    out[at + k] = (byte) (v >>> (8 * k));
                }
            }
            default -> {
                int at = random.nextInt(out.length);
                int len = Math.min(out.length - at, 1 + random.nextInt(16));
                byte[] cut = new byte[out.length - len];
                System.arraycopy(out, 0, cut, 0, at);
                System.arraycopy(out, at + len, cut, at, out.length - at - len);
                out = cut;
            }
        }
        return out;
    }

    /** Edits data.pkl and re-zips: these get past the zip checks into the unpickler and the tensor checks. */
    private static byte[] mutatePickle(Map<String, byte[]> unzipped, Random random) throws IOException {
        Map<String, byte[]> records = new LinkedHashMap<>(unzipped);
        String pkl = records.keySet().stream().filter(n -> n.endsWith("/data.pkl")).findFirst().orElseThrow();
        byte[] p = records.get(pkl).clone();
        for (int n = random.nextInt(3) == 0 ? 2 : 1; n > 0 && p.length > 0; n--) {
            int at = random.nextInt(p.length);
            switch (random.nextInt(5)) {
                case 0 -> p[at] = (byte) OPCODES[random.nextInt(OPCODES.length)];
                case 1 -> p[at] ^= (byte) (1 << random.nextInt(8));
                case 2 -> p[at] = (byte) new int[]{0, 1, 2, 3, 4, 8, 24, 127, 128, 255}[random.nextInt(10)];
                case 3 -> p = Arrays.copyOf(p, at);
                default -> {
                    // Duplicate a run of bytes: repeats pushes, marks and memo operations.
                    int len = Math.min(p.length - at, 1 + random.nextInt(24));
                    byte[] grown = new byte[p.length + len];
                    System.arraycopy(p, 0, grown, 0, at + len);
                    System.arraycopy(p, at, grown, at + len, p.length - at);
                    p = grown;
                }
            }
        }
        records.put(pkl, p);
        return TorchFiles.zip(records);
    }
}
