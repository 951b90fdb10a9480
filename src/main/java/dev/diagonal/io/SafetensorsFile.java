package dev.diagonal.io;

import dev.diagonal.io.SafetensorsException.Reason;
import dev.diagonal.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.FileChannel.MapMode;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A safetensors file, memory-mapped read-only. Tensors are views into the mapping, never copies: a multi-GB
 * checkpoint costs page cache, not heap. The header is checked completely at {@link #open}, so every view this
 * file hands out lies inside the file.
 *
 * <p>Closing the file unmaps it; tensors obtained from it must not be used afterwards (the memory API then
 * throws IllegalStateException rather than reading freed memory). Views may be read from any thread.
 *
 * <p>As with any mmap, another process truncating the file while it is mapped makes reads fail hard; checkpoints
 * are expected to be immutable while loaded.
 */
public final class SafetensorsFile implements TensorFile {
    /** The format's own limit (the reference implementation uses 100 MB too); larger is a hostile file. */
    public static final long MAX_HEADER_BYTES = 100_000_000L;
    private static final long LENGTH_PREFIX_BYTES = 8;

    static {
        // Tensor reads elements in native order while safetensors stores little-endian; views are only right on
        // little-endian hosts (x86-64, AArch64), so refuse loudly elsewhere rather than return garbage.
        if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
            throw new ExceptionInInitializerError("safetensors views need a little-endian host");
        }
    }

    private final Path path;
    private final Arena arena;
    private final MemorySegment mapping;
    private final long dataStart;
    private final Header header;
    private final AtomicBoolean closed = new AtomicBoolean();

    private SafetensorsFile(Path path, Arena arena, MemorySegment mapping, long dataStart, Header header) {
        this.path = path;
        this.arena = arena;
        this.mapping = mapping;
        this.dataStart = dataStart;
        this.header = header;
    }

    /**
     * Maps and validates a file.
     *
     * @throws SafetensorsException when the file is not a well-formed safetensors file (nothing stays mapped)
     * @throws IOException          when the file cannot be opened or mapped
     */
    public static SafetensorsFile open(Path path) throws IOException {
        Arena arena = Arena.ofShared();
        try {
            MemorySegment mapping;
            try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
                long size = ch.size();
                if (size < LENGTH_PREFIX_BYTES) {
                    throw new SafetensorsException(Reason.TRUNCATED_HEADER, path, null,
                            "file has " + size + " bytes, fewer than the 8-byte header length");
                }
                // The mapping outlives the channel: it belongs to the arena.
                mapping = ch.map(MapMode.READ_ONLY, 0, size, arena);
            }
            long size = mapping.byteSize();
            // An unsigned 64-bit length: as a signed long, anything >= 2^63 reads negative and is rejected too.
            long headerLength = mapping.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
            long room = size - LENGTH_PREFIX_BYTES;
            if (headerLength < 0 || headerLength > room || headerLength > MAX_HEADER_BYTES) {
                throw new SafetensorsException(Reason.HEADER_TOO_LARGE, path, null, "header length "
                        + Long.toUnsignedString(headerLength) + " exceeds " + (headerLength > MAX_HEADER_BYTES
                        ? "the limit of " + MAX_HEADER_BYTES + " bytes" : "the " + room + " bytes after the length"));
            }
            long dataStart = Math.addExact(LENGTH_PREFIX_BYTES, headerLength);
            // Only the header is copied to the heap (at most 100 MB, checked above); tensor bytes stay mapped.
            byte[] json = mapping.asSlice(LENGTH_PREFIX_BYTES, headerLength).toArray(ValueLayout.JAVA_BYTE);
            Header header = Header.parse(json, Math.subtractExact(size, dataStart), path);
            return new SafetensorsFile(path, arena, mapping, dataStart, header);
        } catch (Throwable t) {
            arena.close(); // a failed open leaves nothing mapped
            throw t;
        }
    }

    /** The file this was opened from. */
    @Override
    public Path path() {
        return path;
    }

    /** Tensor names in sorted order ({@code __metadata__} is not a tensor). */
    @Override
    public Set<String> names() {
        return header.tensors().keySet();
    }

    /** True when the file has a tensor of that name. */
    public boolean has(String name) {
        return header.tensors().containsKey(name);
    }

    /** The validated header entry of a tensor. */
    @Override
    public TensorInfo info(String name) {
        TensorInfo info = header.tensors().get(name);
        if (info == null) {
            throw new IllegalArgumentException("safetensors file " + path + " has no tensor '" + Strings.clip(name) + "'");
        }
        return info;
    }

    /** The string map under {@code __metadata__}, in file order; empty when there is none. */
    public Map<String, String> metadata() {
        return header.metadata();
    }

    /**
     * A view of the tensor's bytes inside the mapping (no copy), valid until this file is closed.
     *
     * @throws IllegalArgumentException when there is no such tensor
     * @throws IllegalStateException    when the file is closed
     */
    @Override
    public Tensor tensor(String name) {
        TensorInfo info = info(name);
        if (closed.get()) {
            throw new IllegalStateException("safetensors file " + path + " is closed");
        }
        // Header.parse proved begin <= end <= data size, so this slice cannot leave the mapping.
        MemorySegment bytes = mapping.asSlice(dataStart + info.begin(), info.byteSize());
        return Tensor.of(bytes, info.dtype(), info.shape());
    }

    /** Unmaps the file; later calls do nothing. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            arena.close();
        }
    }

    @Override
    public String toString() {
        return "SafetensorsFile[" + path + ", " + header.tensors().size() + " tensors]";
    }
}
