package dev.diagonal.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * A dense, row-major tensor: a memory segment with a dtype and a shape. The tensor does not own its memory:
 * whoever made the segment (an {@link Arena}, a mapped file, a device allocator) does, and closing that owner
 * ends the tensor. Views ({@link #reshape}, {@link #rows}) share the segment.
 */
public final class Tensor {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED;

    private final MemorySegment data;
    private final DType dtype;
    private final long[] shape;
    private final Device device;

    private Tensor(MemorySegment data, DType dtype, long[] shape, Device device) {
        this.data = data;
        this.dtype = dtype;
        this.shape = shape;
        this.device = device;
    }

    /** Wraps a host segment whose size must be exactly numel(shape) * dtype.bytes(). */
    public static Tensor of(MemorySegment data, DType dtype, long... shape) {
        return of(data, dtype, Device.CPU, shape);
    }

    /** Wraps a segment on the given device; the size must match the shape exactly. */
    public static Tensor of(MemorySegment data, DType dtype, Device device, long... shape) {
        long[] s = shape.clone();
        long bytes = Math.multiplyExact(numel(s), dtype.bytes());
        if (data.byteSize() != bytes) {
            throw new IllegalArgumentException("segment of " + data.byteSize() + " bytes does not hold "
                    + dtype + Arrays.toString(s) + " (" + bytes + " bytes)");
        }
        return new Tensor(data, dtype, s, device);
    }

    /** A zero-filled host tensor owned by {@code arena}. */
    public static Tensor allocate(Arena arena, DType dtype, long... shape) {
        long bytes = Math.multiplyExact(numel(shape), dtype.bytes());
        return new Tensor(arena.allocate(bytes, 64), dtype, shape.clone(), Device.CPU);
    }

    /** A host F32 tensor holding a copy of {@code values}. */
    public static Tensor ofFloats(Arena arena, float[] values, long... shape) {
        Tensor t = allocate(arena, DType.F32, shape);
        if (t.numel() != values.length) {
            throw new IllegalArgumentException(values.length + " values do not fill shape " + Arrays.toString(shape));
        }
        MemorySegment.copy(values, 0, t.data, F32, 0, values.length);
        return t;
    }

    /** Number of elements of a shape; every dimension must be non-negative. */
    public static long numel(long... shape) {
        long n = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
            }
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    public MemorySegment data() {
        return data;
    }

    public DType dtype() {
        return dtype;
    }

    public Device device() {
        return device;
    }

    public long[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    public long dim(int axis) {
        return shape[axis < 0 ? shape.length + axis : axis];
    }

    public long numel() {
        return numel(shape);
    }

    public long byteSize() {
        return data.byteSize();
    }

    /** The same bytes seen with another shape of equal element count. */
    public Tensor reshape(long... newShape) {
        if (numel(newShape) != numel()) {
            throw new IllegalArgumentException("cannot reshape " + Arrays.toString(shape) + " to " + Arrays.toString(newShape));
        }
        return new Tensor(data, dtype, newShape.clone(), device);
    }

    /** Rows [start, start+count) along the first axis, as a view. */
    public Tensor rows(long start, long count) {
        if (rank() == 0 || start < 0 || count < 0 || start + count > shape[0]) {
            throw new IndexOutOfBoundsException("rows [" + start + ", " + (start + count) + ") of " + Arrays.toString(shape));
        }
        long rowBytes = numel(Arrays.copyOfRange(shape, 1, shape.length)) * dtype.bytes();
        long[] s = shape.clone();
        s[0] = count;
        return new Tensor(data.asSlice(start * rowBytes, count * rowBytes), dtype, s, device);
    }

    /** Element i (flat index) widened to float; host tensors of F32, F16 or BF16 only. */
    public float getFloat(long i) {
        requireHost();
        return switch (dtype) {
            case F32 -> data.getAtIndex(F32, i);
            case BF16 -> Bf16.toFloat(data.getAtIndex(I16, i));
            case F16 -> Float.float16ToFloat(data.getAtIndex(I16, i));
            case F64 -> (float) data.getAtIndex(ValueLayout.JAVA_DOUBLE_UNALIGNED, i);
            default -> throw new UnsupportedOperationException("getFloat on " + dtype);
        };
    }

    /** Stores v at flat index i, rounding to the tensor's dtype. */
    public void setFloat(long i, float v) {
        requireHost();
        switch (dtype) {
            case F32 -> data.setAtIndex(F32, i, v);
            case BF16 -> data.setAtIndex(I16, i, Bf16.fromFloat(v));
            case F16 -> data.setAtIndex(I16, i, Float.floatToFloat16(v));
            case F64 -> data.setAtIndex(ValueLayout.JAVA_DOUBLE_UNALIGNED, i, v);
            default -> throw new UnsupportedOperationException("setFloat on " + dtype);
        }
    }

    /** All elements widened to a new float array (host only; for tests, tools and small tensors). */
    public float[] toFloatArray() {
        long n = numel();
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException("tensor of " + n + " elements does not fit a Java array");
        }
        float[] out = new float[(int) n];
        if (dtype == DType.F32) {
            requireHost();
            MemorySegment.copy(data, F32, 0, out, 0, out.length);
        } else {
            for (int i = 0; i < out.length; i++) {
                out[i] = getFloat(i);
            }
        }
        return out;
    }

    /** Copies src's elements into this tensor, converting dtype; element counts must match (host only). */
    public void copyFrom(Tensor src) {
        if (src.numel() != numel()) {
            throw new IllegalArgumentException("copy of " + Arrays.toString(src.shape) + " into " + Arrays.toString(shape));
        }
        if (src.dtype == dtype) {
            MemorySegment.copy(src.data, 0, data, 0, byteSize());
            return;
        }
        long n = numel();
        for (long i = 0; i < n; i++) {
            setFloat(i, src.getFloat(i));
        }
    }

    private void requireHost() {
        if (device != Device.CPU) {
            throw new IllegalStateException("element access on a " + device + " tensor; copy it to the host first");
        }
    }

    @Override
    public String toString() {
        return dtype + Arrays.toString(shape) + (device == Device.CPU ? "" : "@" + device);
    }
}
