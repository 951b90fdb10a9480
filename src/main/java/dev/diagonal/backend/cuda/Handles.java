package dev.diagonal.backend.cuda;

import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;

/**
 * Raw addresses in and out of JCuda's handle objects. JCuda keeps a handle's value in a protected field and
 * reads a {@link Pointer} as its native value plus its byte offset, so a subclass reads the value back and an
 * offset from null stands for any address; no reflection is needed either way.
 */
final class Handles {
    private Handles() {
    }

    /** A device pointer that cuMemAlloc fills in and whose address can then be read. */
    static final class DevicePointer extends CUdeviceptr {
        long address() {
            return getNativePointer() + getByteOffset();
        }
    }

    /** A stream that cuStreamCreate fills in; its address is the cudaStream_t that cuBLAS takes. */
    static final class Stream extends CUstream {
        long address() {
            return getNativePointer();
        }
    }

    /** The device address as JCuda's driver calls take it. */
    static CUdeviceptr device(long address) {
        return new CUdeviceptr().withByteOffset(address);
    }

    /** A host address (native memory) as JCuda's copy calls take it. */
    static Pointer host(long address) {
        return new Pointer().withByteOffset(address);
    }
}
