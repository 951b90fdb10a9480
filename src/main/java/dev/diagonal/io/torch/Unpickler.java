package dev.diagonal.io.torch;

import dev.diagonal.io.Strings;
import dev.diagonal.io.torch.Pickled.Global;
import dev.diagonal.io.torch.Pickled.StorageRef;
import dev.diagonal.io.torch.Pickled.TensorRef;
import dev.diagonal.io.torch.Pickled.Tuple;
import dev.diagonal.io.torch.TorchFormatException.Reason;
import dev.diagonal.tensor.DType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.math.BigInteger;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A restricted pickle interpreter: exactly what {@code torch.save} writes for a state dict (protocols 2 to 5
 * without objects or buffers), and nothing else. It builds plain data (see {@link Pickled}); the only "calls" are
 * four allowlisted globals it interprets itself (OrderedDict, and torch's tensor and parameter rebuilders), and
 * the storage types, which only name a dtype. Every other global and every object-building opcode is refused
 * by name, so loading a checkpoint can never run code.
 *
 * <p>It is iterative (no recursion on the input's nesting), every length is checked against the bytes left
 * before anything is allocated, and the number of values it creates is bounded, so hostile input fails with a
 * {@link TorchFormatException} rather than a stack overflow or an out-of-memory error.
 */
final class Unpickler {
    /**
     * Values (stack pushes, and memo entries) one pickle may create: a 14B state dict needs about 2 x 10^4, one
     * with Adam's state beside it about 10^5, so 2 M leaves room while bounding the heap a hostile pickle can take.
     */
    static final long MAX_VALUES = 1L << 21;
    /** Text arguments (GLOBAL names, INT/LONG/FLOAT literals) are lines this short at most. */
    private static final int MAX_LINE = 1024;
    /** Longest integer accepted (LONG1/LONG4): torch's legacy magic number needs 10 bytes. */
    private static final int MAX_LONG_BYTES = 16;

    private static final Set<String> CALLABLES = Set.of("collections.OrderedDict", "torch._utils._rebuild_tensor_v2",
            "torch._utils._rebuild_tensor", "torch._utils._rebuild_parameter");
    private static final Map<String, DType> STORAGES = Map.of("FloatStorage", DType.F32, "DoubleStorage", DType.F64,
            "HalfStorage", DType.F16, "BFloat16Storage", DType.BF16, "LongStorage", DType.I64, "IntStorage", DType.I32,
            "ShortStorage", DType.I16, "CharStorage", DType.I8, "ByteStorage", DType.U8, "BoolStorage", DType.BOOL);

    /** Turns a persistent id (BINPERSID's tuple) into a value: the storage it names. */
    interface Persistent {
        Object load(Tuple pid) throws TorchFormatException;
    }

    /** A finished pickle: its value and the offset just past its STOP opcode. */
    record Result(Object value, long end) {
    }

    private final MemorySegment in;
    private final long limit;
    private final Path file;
    private final String record;
    private final Persistent persistent;
    private final List<Object> stack = new ArrayList<>();
    private final List<Integer> marks = new ArrayList<>();
    private final Map<Long, Object> memo = new HashMap<>();
    private long pos;
    private long values;

    private Unpickler(MemorySegment in, long start, long limit, Path file, String record, Persistent persistent) {
        this.in = in;
        this.pos = start;
        this.limit = limit;
        this.file = file;
        this.record = record;
        this.persistent = persistent;
    }

    /**
     * Runs one pickle from {@code start} to its STOP.
     *
     * @param limit  no byte at or past this offset is read
     * @param record what the bytes are, for messages ("data.pkl")
     */
    static Result run(MemorySegment in, long start, long limit, Path file, String record, Persistent persistent)
            throws TorchFormatException {
        Unpickler u = new Unpickler(in, start, limit, file, record, persistent);
        Object value = u.loop();
        return new Result(value, u.pos);
    }

    /** The dtype a storage type global stands for. */
    static DType storageDtype(Object g) {
        return g instanceof Global(String module, String name) && module.equals("torch") ? STORAGES.get(name) : null;
    }

    private Object loop() throws TorchFormatException {
        while (true) {
            if (pos >= limit) {
                throw bad("ends at byte " + pos + " without a STOP opcode");
            }
            long at = pos;
            int op = u8();
            switch (op) {
                case Opcodes.PROTO -> {
                    int v = u8();
                    if (v > 5) {
                        throw bad("protocol " + v + " is newer than pickle's 5");
                    }
                }
                case Opcodes.FRAME -> length(8, "FRAME"); // frames only group the bytes that follow
                case Opcodes.STOP -> {
                    return pop(at);
                }
                case Opcodes.MARK -> marks.add(stack.size());
                case Opcodes.POP -> {
                    if (stack.isEmpty()) {
                        popMark(at); // what Python does with POP on an empty stack above a mark
                    } else {
                        pop(at);
                    }
                }
                case Opcodes.POP_MARK -> popMark(at);
                case Opcodes.DUP -> push(peek(at));
                case Opcodes.NONE -> push(null);
                case Opcodes.NEWTRUE -> push(Boolean.TRUE);
                case Opcodes.NEWFALSE -> push(Boolean.FALSE);
                case Opcodes.BININT -> push((long) bytes(4).get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0));
                case Opcodes.BININT1 -> push((long) u8());
                case Opcodes.BININT2 -> push((long) (u8() | u8() << 8));
                case Opcodes.LONG1 -> push(longValue(u8()));
                case Opcodes.LONG4 -> push(longValue(length(4, "LONG4")));
                case Opcodes.INT -> push(intLine(line("INT")));
                case Opcodes.LONG -> push(longLine(line("LONG")));
                case Opcodes.FLOAT -> push(floatLine(line("FLOAT")));
                case Opcodes.BINFLOAT -> push(bytes(8).get(ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN), 0));
                case Opcodes.BINUNICODE -> push(utf8(length(4, "BINUNICODE")));
                case Opcodes.SHORT_BINUNICODE -> push(utf8(u8()));
                case Opcodes.BINUNICODE8 -> push(utf8(length(8, "BINUNICODE8")));
                // Python 2's str: bytes, which torch only ever used for ASCII names.
                case Opcodes.BINSTRING -> push(latin1(length(4, "BINSTRING")));
                case Opcodes.SHORT_BINSTRING -> push(latin1(u8()));
                case Opcodes.BINBYTES -> push(bytes(length(4, "BINBYTES")).toArray(ValueLayout.JAVA_BYTE));
                case Opcodes.SHORT_BINBYTES -> push(bytes(u8()).toArray(ValueLayout.JAVA_BYTE));
                case Opcodes.BINBYTES8 -> push(bytes(length(8, "BINBYTES8")).toArray(ValueLayout.JAVA_BYTE));
                case Opcodes.EMPTY_LIST -> push(new ArrayList<>());
                case Opcodes.EMPTY_DICT -> push(new LinkedHashMap<>());
                case Opcodes.EMPTY_TUPLE -> push(new Tuple(List.of()));
                case Opcodes.LIST -> push(new ArrayList<>(popToMark(at)));
                case Opcodes.TUPLE -> push(new Tuple(popToMark(at)));
                case Opcodes.TUPLE1, Opcodes.TUPLE2, Opcodes.TUPLE3 -> push(new Tuple(popN(op - Opcodes.TUPLE1 + 1, at)));
                case Opcodes.DICT -> {
                    Map<Object, Object> d = new LinkedHashMap<>();
                    putAll(d, popToMark(at), at);
                    push(d);
                }
                case Opcodes.APPEND -> {
                    Object v = pop(at);
                    list(peek(at), at).add(v);
                }
                case Opcodes.APPENDS -> {
                    List<Object> items = popToMark(at);
                    list(peek(at), at).addAll(items);
                }
                case Opcodes.SETITEM -> {
                    Object v = pop(at);
                    Object k = pop(at);
                    putAll(dict(peek(at), at), pair(k, v), at);
                }
                case Opcodes.SETITEMS -> {
                    List<Object> items = popToMark(at);
                    putAll(dict(peek(at), at), items, at);
                }
                case Opcodes.BINPUT -> memoize(u8(), at);
                case Opcodes.LONG_BINPUT -> memoize(length(4, "LONG_BINPUT"), at);
                case Opcodes.PUT -> memoize(index(line("PUT")), at);
                case Opcodes.MEMOIZE -> memoize(memo.size(), at);
                case Opcodes.BINGET -> push(recall(u8(), at));
                case Opcodes.LONG_BINGET -> push(recall(length(4, "LONG_BINGET"), at));
                case Opcodes.GET -> push(recall(index(line("GET")), at));
                case Opcodes.GLOBAL -> {
                    String module = line("GLOBAL");
                    push(global(module, line("GLOBAL"), at));
                }
                case Opcodes.STACK_GLOBAL -> {
                    Object name = pop(at);
                    Object module = pop(at);
                    if (!(module instanceof String m) || !(name instanceof String n)) {
                        throw bad("STACK_GLOBAL at byte " + at + " on a " + Pickled.kind(module) + " and a "
                                + Pickled.kind(name) + ", not two strings");
                    }
                    push(global(m, n, at));
                }
                case Opcodes.REDUCE -> {
                    Object args = pop(at);
                    Object fn = pop(at);
                    push(reduce(fn, args, at));
                }
                case Opcodes.BUILD -> {
                    Object state = pop(at);
                    Object target = peek(at);
                    // OrderedDict's state is its instance attributes (torch's state_dict._metadata), not items.
                    if (!(target instanceof Map<?, ?>) || !(state instanceof Map<?, ?> || state instanceof Tuple)) {
                        throw bad("BUILD at byte " + at + " sets " + Pickled.kind(state) + " state on a "
                                + Pickled.kind(target) + "; only an OrderedDict's attributes are accepted");
                    }
                }
                case Opcodes.BINPERSID -> {
                    Object pid = pop(at);
                    if (!(pid instanceof Tuple t)) {
                        throw bad("BINPERSID at byte " + at + " on a " + Pickled.kind(pid) + ", not a tuple");
                    }
                    push(persistent.load(t));
                }
                default -> throw forbiddenOrUnknown(op, at);
            }
        }
    }

    private static List<Object> pair(Object k, Object v) {
        List<Object> p = new ArrayList<>(2);
        p.add(k);
        p.add(v);
        return p;
    }

    private Object reduce(Object fn, Object args, long at) throws TorchFormatException {
        if (!(fn instanceof Global g) || !CALLABLES.contains(g.qualified())) {
            throw bad("REDUCE at byte " + at + " calls a " + Pickled.kind(fn) + ", which cannot be called");
        }
        if (!(args instanceof Tuple a)) {
            throw bad("REDUCE at byte " + at + " on " + g.qualified() + " with a " + Pickled.kind(args)
                    + " of arguments, not a tuple");
        }
        return switch (g.name()) {
            case "OrderedDict" -> {
                if (a.size() != 0) {
                    throw bad("OrderedDict at byte " + at + " built from arguments; torch.save writes OrderedDict()");
                }
                yield new LinkedHashMap<>();
            }
            case "_rebuild_parameter" -> {
                if (a.size() != 3 || !(a.get(0) instanceof TensorRef t)) {
                    throw bad("_rebuild_parameter at byte " + at + " takes (tensor, requires_grad, hooks), got "
                            + describe(a));
                }
                yield t;
            }
            default -> tensor(g.name(), a, at); // _rebuild_tensor_v2 or the legacy _rebuild_tensor
        };
    }

    /** _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata]) or _rebuild_tensor's 4. */
    private TensorRef tensor(String fn, Tuple a, long at) throws TorchFormatException {
        boolean v2 = fn.equals("_rebuild_tensor_v2");
        boolean arity = v2 ? a.size() == 6 || a.size() == 7 : a.size() == 4;
        if (!arity || !(a.get(0) instanceof StorageRef storage) || !(a.get(1) instanceof Long offset)
                || !(a.get(2) instanceof Tuple size) || !(a.get(3) instanceof Tuple stride)
                || (v2 && !(a.get(4) instanceof Boolean))) {
            throw bad(fn + " at byte " + at + " takes (storage, offset, size, stride" + (v2 ? ", requires_grad, hooks" : "")
                    + "), got " + describe(a));
        }
        if (size.size() != stride.size() || size.size() > 64) {
            throw bad(fn + " at byte " + at + ": size has " + size.size() + " dimensions and stride " + stride.size());
        }
        return new TensorRef(storage, offset, longs(size, fn, at), longs(stride, fn, at));
    }

    private long[] longs(Tuple t, String fn, long at) throws TorchFormatException {
        long[] out = new long[t.size()];
        for (int i = 0; i < out.length; i++) {
            if (!(t.get(i) instanceof Long l)) {
                throw bad(fn + " at byte " + at + ": a size or stride element is a " + Pickled.kind(t.get(i)));
            }
            out[i] = l;
        }
        return out;
    }

    private static String describe(Tuple a) {
        StringBuilder sb = new StringBuilder("(");
        for (int i = 0; i < a.size(); i++) {
            sb.append(i == 0 ? "" : ", ").append(Pickled.kind(a.get(i)));
        }
        return sb.append(')').toString();
    }

    private Global global(String module, String name, long at) throws TorchFormatException {
        Global g = new Global(module, name);
        if (CALLABLES.contains(g.qualified()) || storageDtype(g) != null) {
            return g;
        }
        throw new TorchFormatException(Reason.FORBIDDEN_GLOBAL, file, null, record + " names global '"
                + Strings.clip(g.qualified()) + "' at byte " + at + "; a checkpoint may only name OrderedDict, "
                + "torch's tensor rebuilders and storage types, so it is refused (loading never runs code)");
    }

    private TorchFormatException forbiddenOrUnknown(int op, long at) {
        String name = Opcodes.forbiddenName(op);
        if (name != null) {
            return new TorchFormatException(Reason.FORBIDDEN_OPCODE, file, null, record + " uses opcode " + name
                    + " at byte " + at + ", which builds arbitrary objects or reads out-of-band data; a tensor "
                    + "state dict never needs it, so it is refused (loading never runs code)");
        }
        return bad("unknown opcode 0x" + Integer.toHexString(op) + " at byte " + at);
    }

    private void putAll(Map<Object, Object> d, List<Object> items, long at) throws TorchFormatException {
        if (items.size() % 2 != 0) {
            throw bad("dict items at byte " + at + " are not key/value pairs (" + items.size() + " values)");
        }
        for (int i = 0; i < items.size(); i += 2) {
            Object k = items.get(i);
            // Only immutable scalars as keys: tuple or container keys would hash recursively, and torch never writes them.
            if (!(k == null || k instanceof String || k instanceof Long || k instanceof BigInteger || k instanceof Boolean
                    || k instanceof Double)) {
                throw bad("dict key at byte " + at + " is a " + Pickled.kind(k) + "; only str and int keys are accepted");
            }
            d.put(k, items.get(i + 1));
        }
    }

    @SuppressWarnings("unchecked")
    private List<Object> list(Object o, long at) throws TorchFormatException {
        if (!(o instanceof ArrayList<?> l)) {
            throw bad("append at byte " + at + " to a " + Pickled.kind(o) + ", not a list");
        }
        return (List<Object>) l;
    }

    @SuppressWarnings("unchecked")
    private Map<Object, Object> dict(Object o, long at) throws TorchFormatException {
        if (!(o instanceof LinkedHashMap<?, ?> m)) {
            throw bad("setitem at byte " + at + " on a " + Pickled.kind(o) + ", not a dict");
        }
        return (Map<Object, Object>) m;
    }

    private void push(Object v) throws TorchFormatException {
        if (++values > MAX_VALUES) {
            throw new TorchFormatException(Reason.TOO_LARGE, file, null, record + " creates more than " + MAX_VALUES
                    + " values, far more than any state dict");
        }
        stack.add(v);
    }

    private Object pop(long at) throws TorchFormatException {
        int floor = marks.isEmpty() ? 0 : marks.getLast();
        if (stack.size() <= floor) {
            throw bad("stack underflow at byte " + at);
        }
        return stack.removeLast();
    }

    private Object peek(long at) throws TorchFormatException {
        int floor = marks.isEmpty() ? 0 : marks.getLast();
        if (stack.size() <= floor) {
            throw bad("stack underflow at byte " + at);
        }
        return stack.getLast();
    }

    private List<Object> popN(int n, long at) throws TorchFormatException {
        int floor = marks.isEmpty() ? 0 : marks.getLast();
        if (stack.size() - floor < n) {
            throw bad("stack underflow at byte " + at);
        }
        List<Object> view = stack.subList(stack.size() - n, stack.size());
        List<Object> out = new ArrayList<>(view);
        view.clear();
        return out;
    }

    private List<Object> popToMark(long at) throws TorchFormatException {
        int mark = popMark(at);
        List<Object> view = stack.subList(mark, stack.size());
        List<Object> out = new ArrayList<>(view);
        view.clear();
        return out;
    }

    private int popMark(long at) throws TorchFormatException {
        if (marks.isEmpty()) {
            throw bad("no MARK on the stack at byte " + at);
        }
        return marks.removeLast();
    }

    private void memoize(long index, long at) throws TorchFormatException {
        if (memo.size() >= MAX_VALUES) {
            throw new TorchFormatException(Reason.TOO_LARGE, file, null, record + " memoizes more than " + MAX_VALUES + " values");
        }
        memo.put(index, peek(at));
    }

    private Object recall(long index, long at) throws TorchFormatException {
        if (!memo.containsKey(index)) {
            throw bad("memo entry " + index + " read at byte " + at + " was never stored");
        }
        return memo.get(index);
    }

    // ---- reading the argument bytes -------------------------------------------------------------------------

    private int u8() throws TorchFormatException {
        if (pos >= limit) { // read in place: one slice per opcode byte would dominate a cold open
            throw bad("truncated: needs 1 byte at byte " + pos + ", 0 left");
        }
        return in.get(ValueLayout.JAVA_BYTE, pos++) & 0xFF;
    }

    /** The next n bytes as a slice; fails when fewer are left. */
    private MemorySegment bytes(long n) throws TorchFormatException {
        if (n > limit - pos) {
            throw bad("truncated: needs " + n + " bytes at byte " + pos + ", " + (limit - pos) + " left");
        }
        MemorySegment s = in.asSlice(pos, n);
        pos += n;
        return s;
    }

    /**
     * A little-endian unsigned length of {@code width} bytes that must fit in what is left of the pickle: checked
     * before anything is allocated, so a 4 GB BINUNICODE in a 100-byte file is refused, not attempted.
     */
    private long length(int width, String op) throws TorchFormatException {
        MemorySegment b = bytes(width);
        long n = width == 4 ? b.get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0) & 0xFFFFFFFFL
                : b.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
        if (op.endsWith("PUT") || op.endsWith("GET")) {
            return n;
        }
        if (op.equals("LONG4")) {
            if (n > MAX_LONG_BYTES) {
                throw new TorchFormatException(Reason.TOO_LARGE, file, null, record + ": LONG4 of "
                        + Long.toUnsignedString(n) + " bytes at byte " + (pos - width - 1) + "; integers of more than "
                        + MAX_LONG_BYTES + " bytes are refused");
            }
            return n;
        }
        if (n < 0 || n > limit - pos) {
            throw new TorchFormatException(Reason.TOO_LARGE, file, null, record + ": " + op + " length "
                    + Long.toUnsignedString(n) + " at byte " + (pos - width - 1) + " runs past the end of the pickle ("
                    + (limit - pos) + " bytes left)");
        }
        return n;
    }

    private Object longValue(long n) throws TorchFormatException {
        if (n > MAX_LONG_BYTES) {
            throw new TorchFormatException(Reason.TOO_LARGE, file, null, record + ": integer of " + n + " bytes");
        }
        byte[] le = bytes(n).toArray(ValueLayout.JAVA_BYTE);
        if (le.length == 0) {
            return 0L;
        }
        byte[] be = new byte[le.length];
        for (int i = 0; i < le.length; i++) {
            be[i] = le[le.length - 1 - i];
        }
        BigInteger v = new BigInteger(be); // two's complement, as pickle's LONG1/LONG4 are
        return v.bitLength() < 64 ? (Object) v.longValue() : v;
    }

    private String utf8(long n) throws TorchFormatException {
        if (n > Integer.MAX_VALUE - 8) {
            throw new TorchFormatException(Reason.TOO_LARGE, file, null, record + ": string of " + n + " bytes");
        }
        return new String(bytes(n).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
    }

    private String latin1(long n) throws TorchFormatException {
        if (n > Integer.MAX_VALUE - 8) {
            throw new TorchFormatException(Reason.TOO_LARGE, file, null, record + ": string of " + n + " bytes");
        }
        return new String(bytes(n).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.ISO_8859_1);
    }

    /** A text argument: bytes up to a newline, at most MAX_LINE of them. */
    private String line(String op) throws TorchFormatException {
        long start = pos;
        StringBuilder sb = new StringBuilder();
        while (true) {
            if (pos - start > MAX_LINE) {
                throw new TorchFormatException(Reason.TOO_LARGE, file, null, record + ": " + op + " argument at byte "
                        + start + " is longer than " + MAX_LINE + " bytes");
            }
            int c = u8();
            if (c == '\n') {
                return sb.toString();
            }
            sb.append((char) c);
        }
    }

    private Object intLine(String s) throws TorchFormatException {
        if (s.equals("00") || s.equals("01")) {
            return s.equals("01"); // protocol 0's booleans
        }
        return longLine(s);
    }

    private Object longLine(String s) throws TorchFormatException {
        String digits = s.endsWith("L") ? s.substring(0, s.length() - 1) : s;
        try {
            BigInteger v = new BigInteger(digits);
            if (v.bitLength() > MAX_LONG_BYTES * 8) {
                throw new TorchFormatException(Reason.TOO_LARGE, file, null, record + ": integer literal too long");
            }
            return v.bitLength() < 64 ? (Object) v.longValue() : v;
        } catch (NumberFormatException e) {
            throw bad("integer literal '" + Strings.clip(s) + "' is not a number");
        }
    }

    private Object floatLine(String s) throws TorchFormatException {
        try {
            return Double.parseDouble(s);
        } catch (NumberFormatException e) {
            throw bad("float literal '" + Strings.clip(s) + "' is not a number");
        }
    }

    private long index(String s) throws TorchFormatException {
        try {
            return Long.parseLong(s);
        } catch (NumberFormatException e) {
            throw bad("memo index '" + Strings.clip(s) + "' is not a number");
        }
    }

    private TorchFormatException bad(String detail) {
        return new TorchFormatException(Reason.BAD_PICKLE, file, null, record + ": " + detail);
    }
}
