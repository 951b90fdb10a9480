package dev.diagonal.io.torch;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

/** Builds torch-style zips and hand-written pickles for the hostile-input and fuzz tests. */
final class TorchFiles {
    private TorchFiles() {
    }

    /** A zip of stored records (torch's layout: archive/data.pkl, archive/data/KEY). */
    static byte[] zip(Map<String, byte[]> records) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ZipOutputStream z = new ZipOutputStream(bytes)) {
            for (Map.Entry<String, byte[]> r : records.entrySet()) {
                ZipEntry e = new ZipEntry(r.getKey());
                e.setMethod(ZipEntry.STORED);
                e.setSize(r.getValue().length);
                e.setCompressedSize(r.getValue().length);
                CRC32 crc = new CRC32();
                crc.update(r.getValue());
                e.setCrc(crc.getValue());
                z.putNextEntry(e);
                z.write(r.getValue());
                z.closeEntry();
            }
        }
        return bytes.toByteArray();
    }

    /** A checkpoint whose data.pkl is {@code pickle}, with storages under archive/data/KEY. */
    static byte[] checkpoint(byte[] pickle, Map<String, byte[]> storages) throws IOException {
        Map<String, byte[]> records = new LinkedHashMap<>();
        records.put("archive/data.pkl", pickle);
        records.put("archive/byteorder", "little".getBytes(StandardCharsets.US_ASCII));
        storages.forEach((k, v) -> records.put("archive/data/" + k, v));
        return zip(records);
    }

    /**
     * The records of a zip, in order, read by java.util.zip independently of the reader under test (ZipFile, not
     * ZipInputStream, which refuses torch's stored records with data descriptors).
     */
    static Map<String, byte[]> unzip(byte[] zip) throws IOException {
        Path tmp = Files.createTempFile("torch-fixture", ".zip");
        try {
            Files.write(tmp, zip);
            Map<String, byte[]> out = new LinkedHashMap<>();
            try (ZipFile z = new ZipFile(tmp.toFile())) {
                for (ZipEntry e : java.util.Collections.list(z.entries())) {
                    try (var in = z.getInputStream(e)) {
                        out.put(e.getName(), in.readAllBytes());
                    }
                }
            }
            return out;
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** A pickle written by hand: opcodes and their arguments appended in order. */
    static final class Pickle {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        Pickle op(int... bytes) {
            for (int b : bytes) {
                out.write(b);
            }
            return this;
        }

        Pickle proto() {
            return op(0x80, 2);
        }

        Pickle str(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            op('X');
            u32(b.length);
            out.writeBytes(b);
            return this;
        }

        Pickle global(String module, String name) {
            op('c');
            out.writeBytes((module + "\n" + name + "\n").getBytes(StandardCharsets.UTF_8));
            return this;
        }

        Pickle u32(long v) {
            return op((int) v & 0xFF, (int) (v >>> 8) & 0xFF, (int) (v >>> 16) & 0xFF, (int) (v >>> 24) & 0xFF);
        }

        Pickle int1(int v) {
            return op('K', v);
        }

        Pickle raw(byte[] b) {
            out.writeBytes(b);
            return this;
        }

        /** {key: tensor(storage '0' of FloatStorage with numel elements, size, stride, offset)} as a dict item. */
        Pickle tensorItem(String key, int offset, int numel, int[] size, int[] stride) {
            str(key).global("torch._utils", "_rebuild_tensor_v2").op('(');
            op('(').str("storage").global("torch", "FloatStorage").str("0").str("cpu").int1(numel).op('t', 'Q');
            int1(offset).op('(');
            for (int s : size) {
                int1(s);
            }
            op('t', '(');
            for (int s : stride) {
                int1(s);
            }
            op('t', 0x89).global("collections", "OrderedDict").op(')', 'R', 't', 'R');
            return this;
        }

        byte[] bytes() {
            return out.toByteArray();
        }
    }
}
