package dev.diagonal.backend.cuda;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The cuBLAS binding's C types and argument order, against a stand-in library (fake_cublas.c, compiled here
 * with the system C compiler; skipped where there is none) that records its calls: a wrong type in a
 * FunctionDescriptor or at an invokeExact call site fails here, not first on a GPU machine.
 */
class CublasBindingTest {
    @TempDir
    Path dir;

    @Test
    void handleStreamMathModeAndGemmArgumentsReachTheLibrary() throws Throwable {
        Path lib = compileFake();
        try (Arena arena = Arena.ofConfined()) {
            long stream = 0x5eed_0000L;
            Cublas cublas = Cublas.open(stream, List.of("libfakecublas.so"), List.of(dir));
            assertEquals(lib.toString(), cublas.library());
            cublas.gemm(Cublas.OP_T, Cublas.OP_N, 50, 37, 96, 0x1000, Cublas.CUDA_R_16BF, 96, 0x2000,
                    Cublas.CUDA_R_16BF, 96, 0x3000, 50);
            CudaException e = assertThrows(CudaException.class, () -> cublas.gemm(Cublas.OP_T, Cublas.OP_N, 13, 1, 1,
                    0x1000, Cublas.CUDA_R_32F, 1, 0x2000, Cublas.CUDA_R_32F, 1, 0x3000, 13));
            assertTrue(e.getMessage().contains("cublasStatus_t 7"), e.getMessage());

            // The same library instance (dlopen returns it again): read what it recorded.
            SymbolLookup fake = SymbolLookup.libraryLookup(lib, arena);
            MethodHandle record = Linker.nativeLinker().downcallHandle(fake.find("fake_record").orElseThrow(),
                    FunctionDescriptor.ofVoid(ADDRESS, ADDRESS, ADDRESS));
            MemorySegment ints = arena.allocate(JAVA_INT, 32);
            MemorySegment floats = arena.allocate(JAVA_FLOAT, 2);
            MemorySegment ptrs = arena.allocate(JAVA_LONG, 8);
            record.invokeExact(ints, floats, ptrs);
            int[] calls = ints.toArray(JAVA_INT);
            assertEquals(1, calls[0], "cublasCreate_v2 once");
            assertEquals(1, calls[2], "cublasSetStream_v2 on the created handle");
            assertEquals(100 + Cublas.DEFAULT_MATH, calls[3], "cublasSetMathMode(CUBLAS_DEFAULT_MATH)");
            assertEquals(stream, ptrs.getAtIndex(JAVA_LONG, 0));
            // The last gemm (m = 13): {handle ok, transa, transb, m, n, k, Atype, lda, Btype, ldb, Ctype, ldc,
            // computeType, algo}
            assertArrayEquals(new int[] {1, 1, 0, 13, 1, 1, 0, 1, 0, 1, 0, 13, 68, -1},
                    java.util.Arrays.copyOfRange(calls, 8, 22));
            assertEquals(1f, floats.getAtIndex(JAVA_FLOAT, 0), "alpha");
            assertEquals(0f, floats.getAtIndex(JAVA_FLOAT, 1), "beta");
            assertEquals(List.of(0x1000L, 0x2000L, 0x3000L),
                    List.of(ptrs.getAtIndex(JAVA_LONG, 1), ptrs.getAtIndex(JAVA_LONG, 2), ptrs.getAtIndex(JAVA_LONG, 3)));
            cublas.close();
            record.invokeExact(ints, floats, ptrs);
            assertEquals(1, ints.getAtIndex(JAVA_INT, 1), "cublasDestroy_v2 on the handle at close");
        }
    }

    @Test
    void theFirstGemmCarriesTheBf16TypesAndLeadingDimensions() throws Throwable {
        Path lib = compileFake();
        try (Arena arena = Arena.ofConfined()) {
            Cublas cublas = Cublas.open(0, List.of("libfakecublas.so"), List.of(dir));
            cublas.gemm(Cublas.OP_T, Cublas.OP_N, 50, 37, 96, 0x1000, Cublas.CUDA_R_16BF, 96, 0x2000,
                    Cublas.CUDA_R_16BF, 96, 0x3000, 50);
            MethodHandle record = Linker.nativeLinker().downcallHandle(
                    SymbolLookup.libraryLookup(lib, arena).find("fake_record").orElseThrow(),
                    FunctionDescriptor.ofVoid(ADDRESS, ADDRESS, ADDRESS));
            MemorySegment ints = arena.allocate(JAVA_INT, 32);
            record.invokeExact(ints, arena.allocate(JAVA_FLOAT, 2), arena.allocate(JAVA_LONG, 8));
            assertArrayEquals(new int[] {1, 1, 0, 50, 37, 96, 14, 96, 14, 96, 0, 50, 68, -1},
                    java.util.Arrays.copyOfRange(ints.toArray(JAVA_INT), 8, 22));
            cublas.close();
        }
    }

    private Path compileFake() throws IOException, InterruptedException {
        Path src = dir.resolve("fake_cublas.c");
        try (InputStream in = getClass().getResourceAsStream("fake_cublas.c")) {
            Files.copy(in, src);
        }
        Path lib = dir.resolve("libfakecublas.so");
        Process cc;
        try {
            cc = new ProcessBuilder("cc", "-shared", "-fPIC", "-O1", "-o", lib.toString(), src.toString())
                    .redirectErrorStream(true).start();
        } catch (IOException e) {
            assumeTrue(false, "no C compiler (cc) to build the stand-in cuBLAS: " + e.getMessage());
            throw e;
        }
        String output = new String(cc.getInputStream().readAllBytes());
        assertTrue(cc.waitFor(60, TimeUnit.SECONDS), "cc did not finish");
        assertEquals(0, cc.exitValue(), "cc failed: " + output);
        return lib;
    }
}
