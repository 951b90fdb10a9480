package dev.diagonal.io;

import dev.diagonal.io.torch.TorchCheckpoint;
import dev.diagonal.tensor.Tensor;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

/**
 * One checkpoint file whose tensors are views into a read-only mapping: a safetensors file or a PyTorch
 * checkpoint ({@code torch.save}). {@link Weights} indexes any number of them by normalized name.
 */
public interface TensorFile extends AutoCloseable {

    /** The file this was opened from. */
    Path path();

    /** Raw tensor names, sorted. */
    Set<String> names();

    /** A tensor's dtype, shape and byte range in the file, without touching its bytes. */
    TensorInfo info(String name);

    /** A view of the tensor's bytes (no copy), valid until this file is closed. */
    Tensor tensor(String name);

    /** What the loader chose inside the file (which nested state dict), for logs; empty when nothing. */
    default String origin() {
        return "";
    }

    /** Unmaps the file; later calls do nothing. */
    @Override
    void close();

    /**
     * Opens a checkpoint by its content: a zip (torch.save's format since PyTorch 1.6) or a pickle stream (the
     * legacy torch.save format) is read as a PyTorch checkpoint, anything else as safetensors, except that a file
     * named {@code .pt}, {@code .pth} or {@code .ckpt} is always a PyTorch checkpoint, so that a damaged one is
     * reported as such rather than as a bad safetensors header.
     *
     * @param stateDicts for PyTorch checkpoints, the nested state dicts to prefer, in order (see
     *                   {@link KeyMapper#findStateDict})
     */
    static TensorFile open(Path path, List<String> stateDicts) throws IOException {
        byte[] head;
        try (InputStream in = Files.newInputStream(path)) {
            head = in.readNBytes(4);
        }
        String name = path.getFileName() == null ? "" : path.getFileName().toString().toLowerCase(java.util.Locale.ROOT);
        if (TorchCheckpoint.looksLikeTorch(head) || name.endsWith(".pt") || name.endsWith(".pth") || name.endsWith(".ckpt")) {
            return TorchCheckpoint.open(path, stateDicts);
        }
        return SafetensorsFile.open(path);
    }
}
