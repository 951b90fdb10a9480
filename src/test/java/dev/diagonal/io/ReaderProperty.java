package dev.diagonal.io;

import dev.diagonal.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * The property every fuzzer checks: opening any bytes either fails with a SafetensorsException that names the
 * file, or succeeds with a file whose every tensor view lies inside the file's data region and can be read to
 * the last byte. Any other exception escapes and fails the caller.
 */
final class ReaderProperty {
    private ReaderProperty() {
    }

    /** Writes {@code bytes} to {@code file} and checks the property; the failure Reason, or null when it opened. */
    static SafetensorsException.Reason check(Path file, byte[] bytes) throws IOException {
        Files.write(file, bytes);
        SafetensorsFile f;
        try {
            f = SafetensorsFile.open(file);
        } catch (SafetensorsException e) {
            if (!e.getMessage().contains(file.toString()) || e.reason() == null) {
                throw new AssertionError("message does not name the file: " + e.getMessage(), e);
            }
            return e.reason();
        }
        try (f) {
            long headerLength = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
            long dataSize = bytes.length - 8 - headerLength;
            for (String name : f.names()) {
                TensorInfo info = f.info(name);
                check(0 <= info.begin() && info.begin() <= info.end() && info.end() <= dataSize, info, "out of bounds");
                Tensor t = f.tensor(name);
                check(t.byteSize() == info.byteSize() && t.numel() * info.dtype().bytes() == t.byteSize(), info,
                        "view size");
                MemorySegment seg = t.data();
                long sum = 0;
                for (long i = 0; i < seg.byteSize(); i++) {
                    sum += seg.get(ValueLayout.JAVA_BYTE, i);
                }
                // The view must show the file's own bytes at the declared offset.
                long at = 8 + headerLength + info.begin();
                long expected = 0;
                for (long i = 0; i < seg.byteSize(); i++) {
                    expected += bytes[(int) (at + i)];
                }
                check(sum == expected, info, "view shows other bytes than the file");
            }
            for (Map.Entry<String, String> e : f.metadata().entrySet()) {
                check(e.getKey() != null && e.getValue() != null, null, "null metadata");
            }
        }
        return null;
    }

    private static void check(boolean ok, TensorInfo info, String what) {
        if (!ok) {
            throw new AssertionError(what + ": " + info);
        }
    }
}
