package dev.diagonal.io;

import dev.diagonal.tensor.DType;

import java.util.Arrays;
import java.util.Objects;

/**
 * One tensor's header entry, validated.
 *
 * @param begin first byte, relative to the start of the data region
 * @param end   one past the last byte, relative to the start of the data region
 */
public record TensorInfo(String name, DType dtype, long[] shape, long begin, long end) {

    public TensorInfo {
        Objects.requireNonNull(name);
        Objects.requireNonNull(dtype);
        shape = shape.clone(); // records do not copy arrays; the header must not be changeable from outside
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
            }
        }
        if (begin < 0 || begin > end) {
            throw new IllegalArgumentException("byte range [" + begin + ", " + end + ") is not a range");
        }
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** Number of elements. */
    public long numel() {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /** Bytes the tensor takes in the file: end - begin. */
    public long byteSize() {
        return end - begin;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorInfo t && name.equals(t.name) && dtype == t.dtype && Arrays.equals(shape, t.shape)
                && begin == t.begin && end == t.end;
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, dtype, Arrays.hashCode(shape), begin, end);
    }

    @Override
    public String toString() {
        return name + ": " + dtype + Arrays.toString(shape) + " @[" + begin + ", " + end + ")";
    }
}
