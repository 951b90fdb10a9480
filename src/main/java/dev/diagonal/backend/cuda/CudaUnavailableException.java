package dev.diagonal.backend.cuda;

/**
 * The CUDA backend cannot open on this machine: no driver library, the driver refuses to initialise, no
 * device, a device index out of range, or no cuBLAS. Callers that can run without a GPU (tests, the CLI's
 * default) catch this one and carry on or report it; any other {@link CudaException} is a real failure.
 */
public class CudaUnavailableException extends CudaException {
    private static final long serialVersionUID = 1L;

    public CudaUnavailableException(String message) {
        super(message);
    }

    public CudaUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
