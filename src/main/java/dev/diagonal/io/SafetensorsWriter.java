package dev.diagonal.io;

import dev.diagonal.tensor.Device;
import dev.diagonal.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * Writes tensors to a safetensors file, all at once and atomically: the bytes go to a temporary file in the
 * target's directory, which is synced and then renamed over the target. A failure at any point leaves the target
 * as it was and no temporary file behind. Because the target is replaced by a rename, tensors may even be views of
 * the very file being overwritten: its old mapping keeps the old bytes.
 *
 * <p>Tensors are written sorted by name and packed back to back (the reference reader rejects gaps); the header
 * is padded with spaces so the data region starts at a multiple of 8. Tensor bytes go from their segments
 * straight to the file channel, without heap arrays.
 */
public final class SafetensorsWriter {
    /** Bytes handed to one channel write: a ByteBuffer cannot view more than 2 GB of a segment at once. */
    private static final long CHUNK = 1L << 30;
    private static final SecureRandom RANDOM = new SecureRandom();

    private SafetensorsWriter() {
    }

    /** Writes {@code tensors} with no metadata. */
    public static void write(Path path, Map<String, Tensor> tensors) throws IOException {
        write(path, tensors, Map.of());
    }

    /**
     * Writes {@code tensors} (host tensors of any dtype) and {@code metadata} to {@code path}, replacing it.
     *
     * @throws IllegalArgumentException when a tensor is not on the host, a name is {@code __metadata__}, or a
     *                                  string has no UTF-8 form (a lone surrogate)
     */
    public static void write(Path path, Map<String, Tensor> tensors, Map<String, String> metadata) throws IOException {
        SortedMap<String, Tensor> sorted = new TreeMap<>(tensors);
        byte[] header = header(sorted, metadata);
        Path target = path.toAbsolutePath();
        // Not Files.createTempFile: that makes the file owner-only, and the rename would carry that mode over to
        // the checkpoint. CREATE_NEW with a random name gets the usual umask-derived mode and never clobbers.
        Path tmp = target.resolveSibling("." + target.getFileName() + "." + Long.toHexString(RANDOM.nextLong()) + ".tmp");
        FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        try {
            try (ch) {
                writeFully(ch, ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, header.length));
                writeFully(ch, ByteBuffer.wrap(header));
                for (Tensor t : sorted.values()) {
                    writeSegment(ch, t.data());
                }
                ch.force(true); // the rename must not become visible before the bytes are durable
            }
            move(tmp, target);
        } catch (Throwable t) { // also a tensor whose arena was closed (IllegalStateException)
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException e) {
                t.addSuppressed(e);
            }
            throw t;
        }
    }

    /** The UTF-8 JSON header, space-padded so that 8 + its length is a multiple of 8. */
    static byte[] header(SortedMap<String, Tensor> tensors, Map<String, String> metadata) {
        StringBuilder sb = new StringBuilder("{");
        if (!metadata.isEmpty()) {
            Strings.appendJsonString(sb, checkText(Header.METADATA_KEY));
            sb.append(":{");
            boolean first = true;
            for (Map.Entry<String, String> e : new TreeMap<>(metadata).entrySet()) {
                sb.append(first ? "" : ",");
                first = false;
                Strings.appendJsonString(sb, checkText(e.getKey()));
                sb.append(':');
                Strings.appendJsonString(sb, checkText(e.getValue()));
            }
            sb.append('}');
        }
        long offset = 0;
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            String name = checkText(e.getKey());
            Tensor t = e.getValue();
            if (name.equals(Header.METADATA_KEY)) {
                throw new IllegalArgumentException("a tensor cannot be named " + Header.METADATA_KEY);
            }
            if (t.device() != Device.CPU) {
                throw new IllegalArgumentException("tensor '" + name + "' is on " + t.device() + "; copy it to the host first");
            }
            long end = Math.addExact(offset, t.byteSize());
            sb.append(sb.length() > 1 ? "," : "");
            Strings.appendJsonString(sb, name);
            sb.append(":{\"dtype\":\"").append(t.dtype().name()).append("\",\"shape\":")
                    .append(Arrays.toString(t.shape()).replace(" ", ""))
                    .append(",\"data_offsets\":[").append(offset).append(',').append(end).append("]}");
            offset = end;
        }
        sb.append('}');
        byte[] json = sb.toString().getBytes(StandardCharsets.UTF_8);
        int padded = Math.multiplyExact(Math.ceilDiv(json.length, 8), 8); // 8 + padded is then a multiple of 8
        if (padded > SafetensorsFile.MAX_HEADER_BYTES) {
            throw new IllegalArgumentException("header of " + padded + " bytes exceeds the format's limit");
        }
        byte[] out = Arrays.copyOf(json, padded);
        Arrays.fill(out, json.length, padded, (byte) ' ');
        return out;
    }

    private static String checkText(String s) {
        if (Strings.hasLoneSurrogate(s)) {
            throw new IllegalArgumentException("\"" + Strings.clip(s) + "\" has an unpaired surrogate and no UTF-8 form");
        }
        return s;
    }

    /** Streams a segment (host memory or a mapping) to the channel in chunks that a ByteBuffer can view. */
    private static void writeSegment(FileChannel ch, MemorySegment data) throws IOException {
        for (long at = 0; at < data.byteSize(); at += CHUNK) {
            writeFully(ch, data.asSlice(at, Math.min(CHUNK, data.byteSize() - at)).asByteBuffer());
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) {
            ch.write(buf);
        }
    }

    private static void move(Path tmp, Path target) throws IOException {
        try {
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            // Same directory, so this only happens on odd file systems; say so rather than write non-atomically.
            throw new IOException("cannot atomically replace " + target + ": " + e.getMessage(), e);
        }
    }
}
