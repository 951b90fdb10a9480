package dev.diagonal.backend.cuda;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Opens the CUDA backend on stand-in libcuda.so.1 and libcublas.so.13 (compiled here from test resources
 * with the system C compiler; skipped where there is none) in a child JVM, which runs {@link FakeDriverCheck}:
 * the whole path from Java through JCuda and java.lang.foreign to the driver, checked without a GPU.
 */
class FakeDriverTest {
    private static final List<String> PTX_FILES = List.of("elementwise", "schedule", "norms", "rope", "layout",
            "attention", "conv3d", "flowwarp");

    @TempDir
    Path dir;

    @Test
    void theBackendDrivesAStandInDriverAsTheRealOneExpects() throws Exception {
        Path libs = Files.createDirectories(dir.resolve("lib"));
        compile("fake_cuda.c", libs.resolve("libcuda.so.1"), "-Wl,-soname,libcuda.so.1");
        compile("fake_cublas.c", libs.resolve("libcublas.so.13"), "-Wl,-soname,libcublas.so.13");
        // Placeholder PTX, last on the classpath: the stand-in driver does not read it.
        Path ptx = dir.resolve("ptx");
        Path kernels = Files.createDirectories(ptx.resolve("dev/diagonal/backend/cuda/kernels"));
        for (String f : PTX_FILES) {
            Files.writeString(kernels.resolve(f + ".ptx"), "// placeholder PTX for FakeDriverTest\n");
        }
        Path tmp = Files.createDirectories(dir.resolve("tmp"));
        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-Djava.io.tmpdir=" + tmp,
                "-cp", System.getProperty("java.class.path") + java.io.File.pathSeparator + ptx,
                FakeDriverCheck.class.getName()).redirectErrorStream(true);
        pb.environment().put("LD_LIBRARY_PATH", libs.toString());
        Process p = pb.start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the child JVM did not finish:\n" + output);
        assertEquals(0, p.exitValue(), output);
        assertTrue(output.contains("FAKE DRIVER CHECK OK"), output);
    }

    private void compile(String source, Path out, String... flags) throws IOException, InterruptedException {
        Path src = dir.resolve(source);
        try (InputStream in = getClass().getResourceAsStream(source)) {
            Files.copy(in, src);
        }
        List<String> cmd = new java.util.ArrayList<>(List.of("cc", "-shared", "-fPIC", "-O1", "-o", out.toString()));
        cmd.addAll(List.of(flags));
        cmd.add(src.toString());
        Process cc;
        try {
            cc = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        } catch (IOException e) {
            assumeTrue(false, "no C compiler (cc) to build the stand-in driver: " + e.getMessage());
            throw e;
        }
        String output = new String(cc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(cc.waitFor(60, TimeUnit.SECONDS), "cc did not finish");
        assertEquals(0, cc.exitValue(), "cc failed: " + output);
    }
}
