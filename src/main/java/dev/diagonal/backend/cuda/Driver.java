package dev.diagonal.backend.cuda;

import jcuda.driver.CUresult;
import jcuda.driver.JCudaDriver;

import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;

/** Checks of driver results, and the first contact with the driver, where a missing GPU shows up. */
final class Driver {
    /** The driver library every CUDA program links against; JCuda's native binding needs it. */
    static final String DRIVER_LIBRARY = "libcuda.so.1";

    private Driver() {
    }

    /** Throws a {@link CudaException} naming the call unless {@code result} is CUDA_SUCCESS. */
    static void check(int result, String call) {
        if (result != CUresult.CUDA_SUCCESS) {
            throw new CudaException(call + " failed: " + errorName(result));
        }
    }

    static String errorName(int result) {
        return CUresult.stringFor(result) + " (" + result + ")";
    }

    /**
     * Initialises the driver API. Fails with {@link CudaUnavailableException} when there is no driver library
     * (checked with dlopen first, so the answer is the same on every call in a process, which JCuda's own
     * static loading is not), when JCuda's native binding will not load, or when cuInit refuses.
     */
    static void init() {
        requireDriverLibrary(DRIVER_LIBRARY);
        int r;
        try {
            r = JCudaDriver.cuInit(0);
        } catch (NoClassDefFoundError e) {
            if (String.valueOf(e.getMessage()).startsWith("jcuda/")) {
                throw new CudaUnavailableException("JCuda (org.jcuda:jcuda) is not on the classpath: "
                        + e.getMessage() + "; run from the built jar with target/lib beside it", e);
            }
            throw new CudaUnavailableException("JCuda's native driver binding failed to load earlier in this"
                    + " process (" + e.getMessage() + ")", e);
        } catch (LinkageError e) {
            String first = String.valueOf(e.getMessage()).lines().findFirst().orElse("");
            throw new CudaUnavailableException("JCuda's native driver binding failed to load (" + first
                    + "); " + DRIVER_LIBRARY + " is present, so check that the jcuda-natives jar for this platform"
                    + " is on the classpath and that java.io.tmpdir is writable", e);
        }
        if (r == CUresult.CUDA_ERROR_NO_DEVICE) {
            throw new CudaUnavailableException("no CUDA device on this machine (cuInit: " + errorName(r) + ")");
        }
        if (r != CUresult.CUDA_SUCCESS) {
            throw new CudaUnavailableException("the CUDA driver is installed but cuInit failed: " + errorName(r)
                    + " (driver and kernel module versions differ, or the device is not visible to this process)");
        }
    }

    /** Throws the "no CUDA driver" error unless {@code library} can be dlopen'ed. */
    static void requireDriverLibrary(String library) {
        try (Arena arena = Arena.ofConfined()) {
            SymbolLookup.libraryLookup(library, arena);
        } catch (IllegalArgumentException e) {
            throw new CudaUnavailableException("no CUDA driver on this machine (" + library + " not found)", e);
        }
    }
}
