package dev.diagonal.io.torch;

import dev.diagonal.io.Strings;
import dev.diagonal.io.torch.TorchFormatException.Reason;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The records of a zip file as torch.save writes it, read from a mapping: the end record (zip64 too, since
 * checkpoints pass 4 GB), the central directory, and each record's local header, which says where its bytes
 * start. java.util.zip cannot be used for this: it hides the byte offsets a mapped view needs.
 *
 * <p>Every offset and size is checked against the file before use, so a record's range always lies inside the
 * mapping. Compression is not undone: torch stores records uncompressed (and 64-byte aligned), which is what makes
 * them mappable; a compressed record is reported when it is asked for.
 */
final class ZipRecords {
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int EOCD = 0x06054b50;
    private static final int ZIP64_LOCATOR = 0x07064b50;
    private static final int ZIP64_EOCD = 0x06064b50;
    private static final int CENTRAL = 0x02014b50;
    private static final int LOCAL = 0x04034b50;
    /** A state dict has one record per storage; a million is far beyond any checkpoint. */
    static final long MAX_RECORDS = 1_000_000;

    /**
     * One record.
     *
     * @param start first byte of its data in the file
     * @param size  bytes of data as stored
     */
    record Record(String name, int method, int flags, long start, long size) {
        boolean stored() {
            return method == 0 && (flags & 1) == 0;
        }
    }

    private ZipRecords() {
    }

    /** The records by name, in directory order. */
    static Map<String, Record> read(MemorySegment zip, Path file) throws TorchFormatException {
        long size = zip.byteSize();
        long eocd = findEnd(zip, file);
        long entries = u16(zip, eocd + 10);
        long cdSize = u32(zip, eocd + 12);
        long cdOffset = u32(zip, eocd + 16);
        if (eocd >= 20 && zip.get(U32, eocd - 20) == ZIP64_LOCATOR) {
            long z = zip.get(U64, eocd - 12);
            if (z < 0 || z > size - 56 || zip.get(U32, z) != ZIP64_EOCD) {
                throw bad(file, "the zip64 end record offset " + z + " does not point at a zip64 end record");
            }
            entries = zip.get(U64, z + 32);
            cdSize = zip.get(U64, z + 40);
            cdOffset = zip.get(U64, z + 48);
        }
        if (entries < 0 || entries > MAX_RECORDS) {
            throw new TorchFormatException(Reason.TOO_LARGE, file, null, "zip directory claims " + Long.toUnsignedString(entries)
                    + " records; more than " + MAX_RECORDS + " are refused");
        }
        if (cdOffset < 0 || cdSize < 0 || cdOffset > size || cdSize > size - cdOffset) {
            throw bad(file, "central directory [" + cdOffset + ", +" + cdSize + ") is outside the file of " + size + " bytes");
        }
        Map<String, Record> out = new LinkedHashMap<>();
        long at = cdOffset;
        long end = cdOffset + cdSize;
        for (long i = 0; i < entries; i++) {
            if (at > end - 46 || zip.get(U32, at) != CENTRAL) {
                throw bad(file, "central directory entry " + i + " at byte " + at + " is missing or cut off");
            }
            int flags = u16(zip, at + 8);
            int method = u16(zip, at + 10);
            long csize = u32(zip, at + 20);
            long usize = u32(zip, at + 24);
            int nameLen = u16(zip, at + 28);
            int extraLen = u16(zip, at + 30);
            int commentLen = u16(zip, at + 32);
            long local = u32(zip, at + 42);
            long next = at + 46 + nameLen + extraLen + commentLen;
            if (next > end) {
                throw bad(file, "central directory entry " + i + " runs past the directory");
            }
            String name = new String(zip.asSlice(at + 46, nameLen).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
            // Zip64: the 32-bit fields that overflowed are 0xFFFFFFFF and their values follow in extra field 0x0001.
            long[] wide = zip64(zip, at + 46 + nameLen, extraLen, usize == 0xFFFFFFFFL, csize == 0xFFFFFFFFL,
                    local == 0xFFFFFFFFL, file, name);
            usize = wide[0] >= 0 ? wide[0] : usize;
            csize = wide[1] >= 0 ? wide[1] : csize;
            local = wide[2] >= 0 ? wide[2] : local;
            if (local < 0 || local > size - 30 || zip.get(U32, local) != LOCAL) {
                throw bad(file, "record '" + Strings.clip(name) + "' has no local header at byte " + local);
            }
            long start = local + 30 + u16(zip, local + 26) + u16(zip, local + 28);
            if (csize < 0 || start > size || csize > size - start) {
                throw bad(file, "record '" + Strings.clip(name) + "' at [" + start + ", +" + Long.toUnsignedString(csize)
                        + ") runs past the end of the file (" + size + " bytes)");
            }
            if (method == 0 && csize != usize) {
                throw bad(file, "stored record '" + Strings.clip(name) + "' has " + csize + " bytes stored but "
                        + usize + " uncompressed");
            }
            if (out.put(name, new Record(name, method, flags, start, csize)) != null) {
                throw bad(file, "record '" + Strings.clip(name) + "' appears twice");
            }
            at = next;
        }
        return Collections.unmodifiableMap(out);
    }

    /** [uncompressed, compressed, local offset] from the zip64 extra field, -1 where not present. */
    private static long[] zip64(MemorySegment zip, long extra, int extraLen, boolean u, boolean c, boolean l,
                                Path file, String name) throws TorchFormatException {
        long[] out = {-1, -1, -1};
        if (!u && !c && !l) {
            return out;
        }
        long p = extra;
        long end = extra + extraLen;
        while (p + 4 <= end) {
            int id = u16(zip, p);
            int len = u16(zip, p + 2);
            if (p + 4 + len > end) {
                break;
            }
            if (id == 1) {
                long q = p + 4;
                boolean[] want = {u, c, l};
                for (int k = 0; k < 3; k++) {
                    if (want[k]) {
                        if (q + 8 > p + 4 + len) {
                            throw bad(file, "record '" + Strings.clip(name) + "': zip64 extra field is too short");
                        }
                        out[k] = zip.get(U64, q);
                        q += 8;
                    }
                }
                return out;
            }
            p += 4 + len;
        }
        throw bad(file, "record '" + Strings.clip(name) + "' needs zip64 sizes but has no zip64 extra field");
    }

    /** The end-of-central-directory record: searched backwards over the largest possible comment. */
    private static long findEnd(MemorySegment zip, Path file) throws TorchFormatException {
        long size = zip.byteSize();
        long lowest = Math.max(0, size - 22 - 0xFFFF);
        for (long p = size - 22; p >= lowest; p--) {
            if (zip.get(U32, p) == EOCD && p + 22 + u16(zip, p + 20) == size) {
                return p;
            }
        }
        throw bad(file, "no zip end-of-directory record (file truncated?)");
    }

    private static int u16(MemorySegment s, long at) {
        return s.get(U16, at) & 0xFFFF;
    }

    private static long u32(MemorySegment s, long at) {
        return s.get(U32, at) & 0xFFFFFFFFL;
    }

    private static TorchFormatException bad(Path file, String detail) {
        return new TorchFormatException(Reason.BAD_ZIP, file, null, detail);
    }
}
