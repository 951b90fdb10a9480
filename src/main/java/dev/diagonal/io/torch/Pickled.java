package dev.diagonal.io.torch;

import dev.diagonal.tensor.DType;

import java.util.Arrays;
import java.util.List;

/**
 * The values the restricted unpickler can produce besides Java's own (String, Long, BigInteger, Double,
 * Boolean, null, {@code List} for Python lists, {@code Map} for dicts and OrderedDicts, {@code byte[]}).
 * Nothing here can run code: a {@link Global} is a name from the allowlist, not a resolved function.
 */
final class Pickled {
    private Pickled() {
    }

    /** A Python tuple (immutable, unlike a list); items may be null (None). */
    record Tuple(List<Object> items) {
        Tuple {
            items = java.util.Collections.unmodifiableList(new java.util.ArrayList<>(items)); // List.copyOf refuses nulls
        }

        int size() {
            return items.size();
        }

        Object get(int i) {
            return items.get(i);
        }
    }

    /** An allowlisted global (module and name), pushed by GLOBAL or STACK_GLOBAL. */
    record Global(String module, String name) {
        String qualified() {
            return module + "." + name;
        }
    }

    /**
     * One storage, named by its record key, as a persistent id describes it.
     *
     * @param numel elements the storage holds
     */
    record StorageRef(String key, DType dtype, String location, long numel) {
    }

    /** A tensor view over a storage: {@code torch._utils._rebuild_tensor_v2}'s arguments. */
    record TensorRef(StorageRef storage, long offset, long[] size, long[] stride) {
        @Override
        public boolean equals(Object o) {
            return o instanceof TensorRef t && storage.equals(t.storage) && offset == t.offset
                    && Arrays.equals(size, t.size) && Arrays.equals(stride, t.stride);
        }

        @Override
        public int hashCode() {
            return storage.hashCode() * 31 + Arrays.hashCode(size);
        }

        @Override
        public String toString() {
            return storage.dtype() + Arrays.toString(size) + " stride " + Arrays.toString(stride) + " @" + offset
                    + " of storage " + storage.key();
        }
    }

    /** A short, non-recursive name of a value's type for messages (values may be cyclic or huge). */
    static String kind(Object v) {
        return switch (v) {
            case null -> "None";
            case String _ -> "str";
            case Long _, java.math.BigInteger _ -> "int";
            case Double _ -> "float";
            case Boolean _ -> "bool";
            case byte[] _ -> "bytes";
            case List<?> _ -> "list";
            case java.util.Map<?, ?> _ -> "dict";
            case Tuple t -> "tuple of " + t.size();
            case Global g -> "global " + g.qualified();
            case StorageRef _ -> "storage";
            case TensorRef _ -> "tensor";
            default -> v.getClass().getSimpleName();
        };
    }
}
