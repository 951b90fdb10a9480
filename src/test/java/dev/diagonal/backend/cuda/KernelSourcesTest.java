package dev.diagonal.backend.cuda;

import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The committed PTX matches the kernel sources, without a GPU or nvcc: each kernels/NAME.cu has a
 * src/main/resources/.../NAME.ptx whose first line is the SHA-256 that kernels/build.sh records (the .cu's bytes
 * followed by every kernels/*.cuh in name order), and, where ptxas is installed, ptxas accepts every PTX file for
 * sm_90a (H100/H200). Maven runs tests from the repository root, which the paths below are relative to.
 */
class KernelSourcesTest {
    private static final Path KERNELS = Path.of("kernels");
    private static final Path PTX = Path.of("src/main/resources/dev/diagonal/backend/cuda/kernels");
    private static final String HASH_PREFIX = "// diagonal-sources-sha256 ";

    @TestFactory
    Stream<DynamicTest> everyKernelHasFreshPtx() throws IOException {
        List<Path> sources = list(KERNELS, ".cu");
        assertFalse(sources.isEmpty(), "no kernels/*.cu found under " + KERNELS.toAbsolutePath());
        byte[] headers = concat(list(KERNELS, ".cuh"));
        return sources.stream().map(cu -> DynamicTest.dynamicTest(cu.getFileName().toString(), () -> {
            String name = stem(cu, ".cu");
            Path ptx = PTX.resolve(name + ".ptx");
            assertTrue(Files.isRegularFile(ptx), ptx + " is missing for kernels/" + name + ".cu: run kernels/build.sh");
            String want = HASH_PREFIX + sha256(Files.readAllBytes(cu), headers);
            assertEquals(want, firstLine(ptx), ptx + " is stale: kernels/" + name
                    + ".cu (or a kernels/*.cuh) changed since it was built; run kernels/build.sh");
        }));
    }

    /** A PTX file with no source left behind (a renamed or deleted .cu) would still be loaded: it must go too. */
    @Test
    void everyPtxHasASource() throws IOException {
        for (Path ptx : list(PTX, ".ptx")) {
            Path cu = KERNELS.resolve(stem(ptx, ".ptx") + ".cu");
            assertTrue(Files.isRegularFile(cu), ptx + " has no source " + cu + ": delete it or restore the .cu");
        }
    }

    @TestFactory
    Stream<DynamicTest> ptxasAcceptsEveryPtxForSm90a() throws IOException {
        Optional<Path> ptxas = onPath("ptxas");
        assumeTrue(ptxas.isPresent(), "ptxas is not on PATH");
        List<Path> files = list(PTX, ".ptx");
        assertFalse(files.isEmpty(), "no PTX files under " + PTX.toAbsolutePath());
        return files.stream().map(ptx -> DynamicTest.dynamicTest(ptx.getFileName().toString(), () -> {
            Process p = new ProcessBuilder(ptxas.get().toString(), "-arch=sm_90a", "-o", "/dev/null", ptx.toString())
                    .redirectErrorStream(true).start();
            String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(5, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                fail("ptxas did not finish on " + ptx + " within 5 minutes");
            }
            assertEquals(0, p.exitValue(), "ptxas -arch=sm_90a rejects " + ptx + ":\n" + output);
        }));
    }

    /** Regular files in dir whose names end in suffix, sorted by name (build.sh's glob order for such names). */
    private static List<Path> list(Path dir, String suffix) throws IOException {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().endsWith(suffix) && Files.isRegularFile(p))
                    .sorted((a, b) -> a.getFileName().toString().compareTo(b.getFileName().toString()))
                    .toList();
        }
    }

    private static String stem(Path file, String suffix) {
        String name = file.getFileName().toString();
        return name.substring(0, name.length() - suffix.length());
    }

    private static byte[] concat(List<Path> files) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (Path f : files) {
            out.write(Files.readAllBytes(f));
        }
        return out.toByteArray();
    }

    private static String sha256(byte[] source, byte[] headers) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            md.update(source);
            md.update(headers);
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String firstLine(Path file) {
        try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line = r.readLine();
            return line == null ? "" : line;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Optional<Path> onPath(String program) {
        String path = System.getenv("PATH");
        if (path == null) {
            return Optional.empty();
        }
        for (String dir : path.split(File.pathSeparator)) {
            if (dir.isEmpty()) {
                continue;
            }
            Path candidate = Path.of(dir, program);
            if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) {
                return Optional.of(candidate);
            }
        }
        return Optional.empty();
    }
}
