package dev.diagonal.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Builds safetensors files byte by byte, so tests can make exactly the malformation they mean. */
final class RawFiles {
    private RawFiles() {
    }

    /** The 8-byte little-endian length prefix, then the header as UTF-8, then {@code data}. */
    static byte[] bytes(String header, byte[] data) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN)
                .putLong(h.length).put(h).put(data).array();
    }

    /** A length prefix that says {@code declaredLength}, followed by {@code rest} whatever it is. */
    static byte[] withLength(long declaredLength, byte[] rest) {
        return ByteBuffer.allocate(8 + rest.length).order(ByteOrder.LITTLE_ENDIAN)
                .putLong(declaredLength).put(rest).array();
    }

    static Path write(Path dir, String name, byte[] content) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, content);
        return p;
    }

    static Path write(Path dir, String name, String header, int dataBytes) throws IOException {
        return write(dir, name, bytes(header, new byte[dataBytes]));
    }
}
