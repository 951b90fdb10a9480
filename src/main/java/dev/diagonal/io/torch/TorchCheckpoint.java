package dev.diagonal.io.torch;

import dev.diagonal.io.KeyMapper;
import dev.diagonal.io.Strings;
import dev.diagonal.io.TensorFile;
import dev.diagonal.io.TensorInfo;
import dev.diagonal.io.torch.Pickled.StorageRef;
import dev.diagonal.io.torch.Pickled.TensorRef;
import dev.diagonal.io.torch.Pickled.Tuple;
import dev.diagonal.io.torch.TorchFormatException.Reason;
import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A PyTorch checkpoint written by {@code torch.save}, memory-mapped read-only: the zip format (PyTorch 1.6 and
 * later: {@code data.pkl} plus one stored record per storage) or the legacy format (pickles followed by raw
 * storages). The pickle is read by a restricted interpreter ({@link Unpickler}) that builds only plain data and
 * tensor descriptions and refuses everything else, so opening a checkpoint never runs code.
 *
 * <p>Tensors are views into the mapping, never copies; a tensor's size, stride and storage offset are
 * honoured when it is row-major contiguous (any offset, shared storages included) and refused otherwise.
 * Which nested state dict is used ({@code generator_ema}, {@code generator}, {@code model}, ...) is decided by
 * {@link KeyMapper#findStateDict} and reported by {@link #origin()}; prefixes inside keys are left to
 * {@link KeyMapper#normalize}, like for safetensors.
 */
public final class TorchCheckpoint implements TensorFile {
    private static final byte[] ZIP_MAGIC = {'P', 'K', 3, 4};
    /** torch's legacy magic number, the first pickle of a legacy file. */
    private static final java.math.BigInteger LEGACY_MAGIC = new java.math.BigInteger("1950a86a20f9469cfc6c", 16);

    static {
        if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
            throw new ExceptionInInitializerError("PyTorch checkpoint views need a little-endian host");
        }
    }

    private final Path path;
    private final Arena arena;
    private final MemorySegment mapping;
    private final SortedMap<String, TensorInfo> tensors;
    private final String origin;
    private final AtomicBoolean closed = new AtomicBoolean();

    private TorchCheckpoint(Path path, Arena arena, MemorySegment mapping, SortedMap<String, TensorInfo> tensors, String origin) {
        this.path = path;
        this.arena = arena;
        this.mapping = mapping;
        this.tensors = tensors;
        this.origin = origin;
    }

    /** True when the first bytes are a zip local header or the start of torch's legacy pickle (PROTO 2, LONG1 10). */
    public static boolean looksLikeTorch(byte[] head) {
        if (head.length < 4) {
            return false;
        }
        boolean zip = head[0] == ZIP_MAGIC[0] && head[1] == ZIP_MAGIC[1] && head[2] == ZIP_MAGIC[2] && head[3] == ZIP_MAGIC[3];
        boolean legacy = (head[0] & 0xFF) == Opcodes.PROTO && head[1] == 2 && (head[2] & 0xFF) == Opcodes.LONG1 && head[3] == 10;
        return zip || legacy;
    }

    /**
     * Maps and reads a checkpoint.
     *
     * @param stateDicts nesting keys to prefer, in order, before {@link KeyMapper#NESTING_KEYS}
     * @throws TorchFormatException when the file is malformed or holds anything but tensors and plain data
     *                              (nothing stays mapped)
     */
    public static TorchCheckpoint open(Path path, List<String> stateDicts) throws IOException {
        Arena arena = Arena.ofShared();
        try {
            MemorySegment mapping;
            try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
                mapping = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            }
            byte[] head = mapping.asSlice(0, Math.min(4, mapping.byteSize())).toArray(ValueLayout.JAVA_BYTE);
            if (!looksLikeTorch(head)) {
                throw new TorchFormatException(Reason.BAD_ZIP, path, null,
                        "neither a zip (torch.save since 1.6) nor a legacy torch.save pickle");
            }
            Layout layout = head[0] == 'P' ? zip(mapping, path) : legacy(mapping, path);
            KeyMapper.StateDict chosen = KeyMapper.findStateDict(layout.root(), stateDicts, v -> v instanceof TensorRef);
            if (chosen == null) {
                throw new TorchFormatException(Reason.NO_STATE_DICT, path, null, "the pickle holds a "
                        + Pickled.kind(layout.root()) + " with no dict of tensors at the root or under "
                        + KeyMapper.NESTING_KEYS);
            }
            SortedMap<String, TensorInfo> infos = new TreeMap<>();
            for (Map.Entry<String, Object> e : chosen.tensors().entrySet()) {
                infos.put(e.getKey(), view(e.getKey(), (TensorRef) e.getValue(), layout.storages(), path));
            }
            return new TorchCheckpoint(path, arena, mapping, Collections.unmodifiableSortedMap(infos), chosen.describe());
        } catch (Throwable t) {
            arena.close();
            throw t;
        }
    }

    /** The unpickled root and where each storage's bytes lie: [start, size) in the file, by storage key. */
    private record Layout(Object root, Map<String, long[]> storages) {
    }

    private static Layout zip(MemorySegment mapping, Path path) throws TorchFormatException {
        Map<String, ZipRecords.Record> records = ZipRecords.read(mapping, path);
        ZipRecords.Record pkl = null;
        for (ZipRecords.Record r : records.values()) {
            // torch names records <archive>/data.pkl, <archive>/data/<key>, <archive>/byteorder, ...
            int slash = r.name().indexOf('/');
            if (slash > 0 && r.name().substring(slash + 1).equals("data.pkl")) {
                if (pkl != null) {
                    throw new TorchFormatException(Reason.BAD_ZIP, path, null, "two data.pkl records: '"
                            + Strings.clip(pkl.name()) + "' and '" + Strings.clip(r.name()) + "'");
                }
                pkl = r;
            }
        }
        if (pkl == null) {
            throw new TorchFormatException(Reason.MISSING_RECORD, path, null, "no <archive>/data.pkl record among "
                    + records.size() + "; not a torch.save file");
        }
        String prefix = pkl.name().substring(0, pkl.name().length() - "data.pkl".length());
        ZipRecords.Record order = records.get(prefix + "byteorder");
        if (order != null && order.stored() && order.size() < 16) {
            String text = new String(mapping.asSlice(order.start(), order.size()).toArray(ValueLayout.JAVA_BYTE),
                    StandardCharsets.US_ASCII).trim();
            if (text.equals("big")) {
                throw new TorchFormatException(Reason.BIG_ENDIAN, path, null, "written on a big-endian machine");
            }
        }
        requireStored(pkl, path);
        Map<String, StorageRef> refs = new HashMap<>();
        Object root = Unpickler.run(mapping, pkl.start(), pkl.start() + pkl.size(), path, pkl.name(),
                pid -> storage(pid, 5, refs, path)).value();
        Map<String, long[]> storages = new HashMap<>();
        for (StorageRef s : refs.values()) {
            ZipRecords.Record r = records.get(prefix + "data/" + s.key());
            if (r == null) {
                throw new TorchFormatException(Reason.MISSING_RECORD, path, null, "storage '" + Strings.clip(s.key())
                        + "' named by the pickle has no record " + Strings.clip(prefix + "data/" + s.key()));
            }
            requireStored(r, path);
            storages.put(s.key(), new long[]{r.start(), r.size()});
        }
        return new Layout(root, storages);
    }

    /**
     * The legacy format: pickles of the magic number, the protocol version and sys_info, then the object, then the
     * list of storage keys; then, per key in that order, an int64 element count and the raw elements.
     */
    private static Layout legacy(MemorySegment mapping, Path path) throws TorchFormatException {
        long size = mapping.byteSize();
        Unpickler.Persistent none = pid -> {
            throw new TorchFormatException(Reason.BAD_PICKLE, path, null, "persistent id in a legacy header pickle");
        };
        Unpickler.Result magic = Unpickler.run(mapping, 0, size, path, "legacy magic", none);
        if (!LEGACY_MAGIC.equals(magic.value())) {
            throw new TorchFormatException(Reason.BAD_PICKLE, path, null, "legacy file without torch's magic number");
        }
        Unpickler.Result version = Unpickler.run(mapping, magic.end(), size, path, "legacy protocol version", none);
        if (!Long.valueOf(1001).equals(version.value())) {
            throw new TorchFormatException(Reason.BAD_PICKLE, path, null, "legacy protocol version is a "
                    + Pickled.kind(version.value()) + ", not 1001");
        }
        Unpickler.Result sys = Unpickler.run(mapping, version.end(), size, path, "legacy sys_info", none);
        if (sys.value() instanceof Map<?, ?> info && Boolean.FALSE.equals(info.get("little_endian"))) {
            throw new TorchFormatException(Reason.BIG_ENDIAN, path, null, "written on a big-endian machine");
        }
        Map<String, StorageRef> refs = new HashMap<>();
        Unpickler.Result body = Unpickler.run(mapping, sys.end(), size, path, "legacy pickle",
                pid -> storage(pid, 6, refs, path));
        Unpickler.Result keys = Unpickler.run(mapping, body.end(), size, path, "legacy storage keys", none);
        if (!(keys.value() instanceof List<?> list)) {
            throw new TorchFormatException(Reason.BAD_PICKLE, path, null, "legacy storage key list is a "
                    + Pickled.kind(keys.value()));
        }
        Map<String, long[]> storages = new HashMap<>();
        long at = keys.end();
        for (Object k : list) {
            StorageRef s = k instanceof String key ? refs.get(key) : null;
            if (s == null) {
                throw new TorchFormatException(Reason.MISSING_RECORD, path, null, "legacy storage key "
                        + (k instanceof String key ? "'" + Strings.clip(key) + "'" : "of type " + Pickled.kind(k))
                        + " is not a storage the pickle uses");
            }
            if (at > size - 8) {
                throw new TorchFormatException(Reason.MISSING_RECORD, path, null, "storage '" + Strings.clip(s.key())
                        + "' is cut off at byte " + at + " (file truncated?)");
            }
            long count = mapping.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), at);
            long bytes = count < 0 || count > (size - at - 8) / s.dtype().bytes() ? -1 : count * s.dtype().bytes();
            if (bytes < 0) {
                throw new TorchFormatException(Reason.TOO_LARGE, path, null, "storage '" + Strings.clip(s.key())
                        + "' claims " + count + " elements, more than the " + (size - at - 8) + " bytes left");
            }
            storages.put(s.key(), new long[]{at + 8, bytes});
            at += 8 + bytes;
        }
        return new Layout(body.value(), storages);
    }

    /** A persistent id ('storage', StorageType, key, location, numel[, view]) as a StorageRef, one per key. */
    private static StorageRef storage(Tuple pid, int arity, Map<String, StorageRef> refs, Path path)
            throws TorchFormatException {
        DType dtype = pid.size() == arity ? Unpickler.storageDtype(pid.get(1)) : null;
        if (dtype == null || !"storage".equals(pid.get(0)) || !(pid.get(2) instanceof String key)
                || !(pid.get(3) instanceof String location) || !(pid.get(4) instanceof Long numel) || numel < 0) {
            throw new TorchFormatException(Reason.BAD_PICKLE, path, null, "persistent id is not ('storage', "
                    + "<torch storage type>, key, location, numel" + (arity == 6 ? ", view" : "") + ")");
        }
        if (arity == 6 && pid.get(5) != null) {
            throw new TorchFormatException(Reason.BAD_TENSOR, path, null, "storage '" + Strings.clip(key)
                    + "' is a view of another storage (legacy view metadata), which is not supported");
        }
        StorageRef ref = new StorageRef(key, dtype, location, numel);
        StorageRef previous = refs.putIfAbsent(key, ref);
        if (previous != null && !previous.equals(ref)) {
            throw new TorchFormatException(Reason.BAD_PICKLE, path, null, "storage '" + Strings.clip(key)
                    + "' is described twice, differently");
        }
        return previous != null ? previous : ref;
    }

    private static void requireStored(ZipRecords.Record r, Path path) throws TorchFormatException {
        if (!r.stored()) {
            throw new TorchFormatException(Reason.COMPRESSED, path, null, "record '" + Strings.clip(r.name())
                    + "' is " + ((r.flags() & 1) != 0 ? "encrypted" : "compressed (method " + r.method() + ")")
                    + "; torch.save stores records uncompressed so they can be mapped: re-save it with torch.save");
        }
    }

    /** The tensor as a byte range of the file, after checking its view lies inside its storage and is contiguous. */
    private static TensorInfo view(String name, TensorRef t, Map<String, long[]> storages, Path path)
            throws TorchFormatException {
        StorageRef s = t.storage();
        long[] size = t.size();
        long[] stride = t.stride();
        long elem = s.dtype().bytes();
        long[] record = storages.get(s.key());
        long numel;
        long needed;
        try {
            numel = 1;
            for (long d : size) {
                if (d < 0) {
                    throw new TorchFormatException(Reason.BAD_TENSOR, path, name, "negative size " + java.util.Arrays.toString(size));
                }
                numel = Math.multiplyExact(numel, d);
            }
            needed = Math.multiplyExact(s.numel(), elem);
            Math.multiplyExact(Math.addExact(t.offset(), numel), elem);
        } catch (ArithmeticException e) {
            throw new TorchFormatException(Reason.BAD_TENSOR, path, name, "size " + java.util.Arrays.toString(size)
                    + " at offset " + t.offset() + " overflows a 64-bit byte count");
        }
        if (record[1] < needed) {
            throw new TorchFormatException(Reason.BAD_TENSOR, path, name, "storage '" + Strings.clip(s.key()) + "' of "
                    + s.numel() + " " + s.dtype() + " elements needs " + needed + " bytes, its record holds " + record[1]);
        }
        if (t.offset() < 0 || (numel > 0 && t.offset() + numel > s.numel())) {
            throw new TorchFormatException(Reason.BAD_TENSOR, path, name, t + " runs past its storage of "
                    + s.numel() + " elements");
        }
        long expected = 1;
        for (int i = size.length - 1; i >= 0; i--) {
            // A dimension of size 1 can carry any stride (torch does not normalize them), and so can an empty tensor.
            if (size[i] != 1 && numel > 0 && stride[i] != expected) {
                throw new TorchFormatException(Reason.NON_CONTIGUOUS, path, name, t + " is not row-major contiguous"
                        + " (expected stride " + expected + " on dimension " + i + "); save it after .contiguous()");
            }
            expected *= size[i];
        }
        long begin = record[0] + (numel == 0 ? 0 : t.offset() * elem);
        return new TensorInfo(name, s.dtype(), size, begin, begin + numel * elem);
    }

    @Override
    public Path path() {
        return path;
    }

    @Override
    public Set<String> names() {
        return tensors.keySet();
    }

    @Override
    public TensorInfo info(String name) {
        TensorInfo info = tensors.get(name);
        if (info == null) {
            throw new IllegalArgumentException("PyTorch checkpoint " + path + " has no tensor '" + Strings.clip(name) + "'");
        }
        return info;
    }

    @Override
    public Tensor tensor(String name) {
        TensorInfo info = info(name);
        if (closed.get()) {
            throw new IllegalStateException("PyTorch checkpoint " + path + " is closed");
        }
        // view() proved the range lies inside the storage record, which ZipRecords proved lies inside the file.
        return Tensor.of(mapping.asSlice(info.begin(), info.byteSize()), info.dtype(), info.shape());
    }

    /** Which state dict was chosen, what else was there, and what was skipped. */
    @Override
    public String origin() {
        return origin;
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            arena.close();
        }
    }

    @Override
    public String toString() {
        return "TorchCheckpoint[" + path + ", " + tensors.size() + " tensors]";
    }
}
