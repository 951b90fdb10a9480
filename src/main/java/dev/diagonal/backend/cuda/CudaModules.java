package dev.diagonal.backend.cuda;

import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUresult;
import jcuda.driver.JCudaDriver;

import java.io.IOException;
import java.io.InputStream;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.Map;

/**
 * The kernels' PTX modules of one context: each kernels/&lt;file&gt;.ptx resource is loaded (and JIT-compiled by
 * the driver for this GPU) the first time one of its kernels is launched, and each function is looked up once.
 * The context must be current on the calling thread.
 */
final class CudaModules implements AutoCloseable {
    /** Where kernels/build.sh writes the PTX, as a classpath resource directory. */
    static final String RESOURCE_DIR = "/dev/diagonal/backend/cuda/kernels/";

    private final Map<String, CUmodule> modules = new HashMap<>();
    private final Map<Kernel, CUfunction> functions = new EnumMap<>(Kernel.class);

    CUfunction function(Kernel kernel) {
        CUfunction f = functions.get(kernel);
        if (f == null) {
            f = new CUfunction();
            int r = JCudaDriver.cuModuleGetFunction(f, module(kernel.file), kernel.symbol);
            if (r != CUresult.CUDA_SUCCESS) {
                throw new CudaException("kernel " + kernel.symbol + " is not in " + kernel.file + ".ptx: "
                        + Driver.errorName(r) + " (is the PTX older than kernels/README.md's ABI? run kernels/build.sh)");
            }
            functions.put(kernel, f);
        }
        return f;
    }

    private CUmodule module(String file) {
        CUmodule m = modules.get(file);
        if (m == null) {
            m = new CUmodule();
            Driver.check(JCudaDriver.cuModuleLoadData(m, ptx(file)), "cuModuleLoadData(" + file + ".ptx)");
            modules.put(file, m);
        }
        return m;
    }

    /** The PTX text as the driver wants it: NUL-terminated bytes. */
    static byte[] ptx(String file) {
        String name = RESOURCE_DIR + file + ".ptx";
        try (InputStream in = CudaModules.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new CudaException("the CUDA kernels' PTX " + name + " is not on the classpath; build it with"
                        + " kernels/build.sh (needs nvcc) and rebuild the jar");
            }
            byte[] text = in.readAllBytes();
            byte[] terminated = new byte[text.length + 1];
            System.arraycopy(text, 0, terminated, 0, text.length);
            return terminated;
        } catch (IOException e) {
            throw new CudaException("cannot read " + name + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        for (CUmodule m : modules.values()) {
            JCudaDriver.cuModuleUnload(m);
        }
        modules.clear();
        functions.clear();
    }
}
