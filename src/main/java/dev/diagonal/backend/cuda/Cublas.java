package dev.diagonal.backend.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * cuBLAS through java.lang.foreign: one handle on the backend's stream, and the one GEMM the backend needs.
 * JCuda's own cuBLAS binding is built against CUDA 12's library and the GPU machines have CUDA 13 only, so the
 * library is found by name here (libcublas.so.13, then .12, then the unversioned name) and bound by hand.
 */
final class Cublas implements AutoCloseable {
    // Enum values from the CUDA headers, checked against NVIDIA's published enums (nvmath-python's
    // bindings docs, docs.nvidia.com/cuda/nvmath-python/latest/bindings/generated/nvmath.bindings.cublas.*,
    // and library_types.h of CUDA 13.0, /usr/local/cuda/include/library_types.h lines 59-63 on the build
    // machine). C enums are passed as int.
    /** cublasOperation_t: CUBLAS_OP_N = 0, CUBLAS_OP_T = 1 (nvmath.bindings.cublas.Operation). */
    static final int OP_N = 0;
    static final int OP_T = 1;
    /** cudaDataType_t (library_types.h): CUDA_R_32F = 0, CUDA_R_16F = 2, CUDA_R_16BF = 14. */
    static final int CUDA_R_32F = 0;
    static final int CUDA_R_16F = 2;
    static final int CUDA_R_16BF = 14;
    /** cublasComputeType_t: CUBLAS_COMPUTE_32F = 68 (nvmath.bindings.cublas.ComputeType). */
    static final int COMPUTE_32F = 68;
    /** cublasGemmAlgo_t: CUBLAS_GEMM_DEFAULT (CUBLAS_GEMM_DFALT) = -1 (nvmath.bindings.cublas.GemmAlgo). */
    static final int GEMM_DEFAULT = -1;
    /**
     * cublasMath_t: CUBLAS_DEFAULT_MATH = 0 (nvmath.bindings.cublas.Math). Set explicitly so that F32 GEMMs
     * with CUBLAS_COMPUTE_32F run in true fp32: only CUBLAS_TF32_TENSOR_OP_MATH (3) would let them round
     * operands to TF32. BF16/F16 operands use tensor cores under any mode.
     */
    static final int DEFAULT_MATH = 0;
    /** cublasStatus_t: CUBLAS_STATUS_SUCCESS = 0 (nvmath.bindings.cublas.Status). */
    static final int STATUS_SUCCESS = 0;

    /** The names tried in order, each through dlopen's own search (LD_LIBRARY_PATH, the ld.so cache). */
    static final List<String> LIBRARY_NAMES = List.of(System.mapLibraryName("cublas") + ".13",
            System.mapLibraryName("cublas") + ".12", System.mapLibraryName("cublas"));

    private final Arena arena;
    private final String library;
    private final MethodHandle destroy;
    private final MethodHandle gemmEx;
    private final MemorySegment handle;
    private final MemorySegment one;
    private final MemorySegment zero;
    private boolean closed;

    private Cublas(Arena arena, Loaded loaded, long stream) {
        this.arena = arena;
        this.library = loaded.name;
        Linker linker = Linker.nativeLinker();
        SymbolLookup lib = loaded.lookup;
        MethodHandle create = bind(linker, lib, "cublasCreate_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        destroy = bind(linker, lib, "cublasDestroy_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        MethodHandle setStream = bind(linker, lib, "cublasSetStream_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        MethodHandle setMathMode = bind(linker, lib, "cublasSetMathMode", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        // cublasGemmEx(handle, transa, transb, m, n, k, alpha, A, Atype, lda, B, Btype, ldb, beta, C, Ctype, ldc,
        //              computeType, algo)
        gemmEx = bind(linker, lib, "cublasGemmEx", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT,
                JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT,
                ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
        one = arena.allocateFrom(ValueLayout.JAVA_FLOAT, 1f);
        zero = arena.allocateFrom(ValueLayout.JAVA_FLOAT, 0f);
        MemorySegment slot = arena.allocate(ADDRESS);
        try {
            check((int) create.invokeExact(slot), "cublasCreate_v2");
            handle = slot.get(ADDRESS, 0);
            try {
                check((int) setStream.invokeExact(handle, MemorySegment.ofAddress(stream)), "cublasSetStream_v2");
                check((int) setMathMode.invokeExact(handle, DEFAULT_MATH), "cublasSetMathMode");
            } catch (Throwable t) {
                int ignored = (int) destroy.invokeExact(handle);
                throw t;
            }
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new CudaException("cuBLAS setup failed: " + t, t);
        }
    }

    /**
     * Loads cuBLAS and makes a handle that runs on {@code stream} (a CUstream's address) in the context current
     * on this thread.
     */
    static Cublas open(long stream) {
        return open(stream, LIBRARY_NAMES, defaultDirectories());
    }

    /** As {@link #open(long)}, looking for the library under {@code names} in {@code directories}. */
    static Cublas open(long stream, List<String> names, List<Path> directories) {
        Arena arena = Arena.ofShared();
        try {
            return new Cublas(arena, load(names, directories, arena), stream);
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    /** The library file name that was loaded. */
    String library() {
        return library;
    }

    /**
     * C[m, n] (column-major, ldc) = op(A) · op(B) with fp32 accumulation and C in fp32; alpha 1, beta 0. All
     * matrices are device addresses.
     */
    void gemm(int transA, int transB, int m, int n, int k, long a, int aType, int lda, long b, int bType, int ldb,
              long c, int ldc) {
        int status;
        try {
            status = (int) gemmEx.invokeExact(handle, transA, transB, m, n, k, one, MemorySegment.ofAddress(a), aType, lda,
                    MemorySegment.ofAddress(b), bType, ldb, zero, MemorySegment.ofAddress(c), CUDA_R_32F, ldc,
                    COMPUTE_32F, GEMM_DEFAULT);
        } catch (Throwable t) {
            throw new CudaException("cublasGemmEx could not be called: " + t, t);
        }
        if (status != STATUS_SUCCESS) {
            throw new CudaException("cublasGemmEx failed with cublasStatus_t " + status + " (m=" + m + ", n=" + n
                    + ", k=" + k + ", A type " + aType + ", B type " + bType + ")");
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            int ignored = (int) destroy.invokeExact(handle);
        } catch (Throwable t) {
            // Closing: nothing useful to do with a failure to destroy the handle.
        }
        arena.close();
    }

    /** The library as found: its name (or path) and its symbols. */
    record Loaded(String name, SymbolLookup lookup) {
    }

    /**
     * The first of {@code names} that loads, first through dlopen's search, then as a file in each of
     * {@code directories}; fails with every place tried.
     */
    static Loaded load(List<String> names, List<Path> directories, Arena arena) {
        List<String> tried = new ArrayList<>();
        for (String name : names) {
            try {
                return new Loaded(name, SymbolLookup.libraryLookup(name, arena));
            } catch (IllegalArgumentException e) {
                tried.add(name);
            }
        }
        for (Path dir : directories) {
            for (String name : names) {
                Path file = dir.resolve(name);
                if (Files.isRegularFile(file)) {
                    try {
                        return new Loaded(file.toString(), SymbolLookup.libraryLookup(file, arena));
                    } catch (IllegalArgumentException e) {
                        tried.add(file + " (present but failed to load: " + e.getMessage() + ")");
                    }
                } else {
                    tried.add(file.toString());
                }
            }
        }
        throw new CudaUnavailableException("cuBLAS not found: tried " + String.join(", ", tried)
                + "; install CUDA's cuBLAS (12 or 13) or put its directory on LD_LIBRARY_PATH");
    }

    /** CUDA's usual install places: $CUDA_HOME/lib64, $CUDA_PATH/lib64, /usr/local/cuda/lib64. */
    static List<Path> defaultDirectories() {
        List<Path> dirs = new ArrayList<>();
        for (String env : List.of("CUDA_HOME", "CUDA_PATH")) {
            String v = System.getenv(env);
            if (v != null && !v.isBlank()) {
                dirs.add(Path.of(v, "lib64"));
            }
        }
        dirs.add(Path.of("/usr/local/cuda/lib64"));
        return dirs;
    }

    private static MethodHandle bind(Linker linker, SymbolLookup lib, String symbol, FunctionDescriptor descriptor) {
        MemorySegment address = lib.find(symbol).orElseThrow(
                () -> new CudaUnavailableException("the cuBLAS library has no symbol " + symbol));
        return linker.downcallHandle(address, descriptor);
    }

    private static void check(int status, String call) {
        if (status != STATUS_SUCCESS) {
            throw new CudaException(call + " failed with cublasStatus_t " + status);
        }
    }
}
