package dev.diagonal.backend.cuda;

/** A device allocation did not fit: the message gives the bytes asked for and the device's free/total. */
public class CudaOutOfMemoryException extends CudaException {
    private static final long serialVersionUID = 1L;

    public CudaOutOfMemoryException(String message) {
        super(message);
    }
}
