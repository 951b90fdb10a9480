package dev.diagonal.backend.cuda;

import dev.diagonal.tensor.Tensor;
import jcuda.Pointer;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Builds cuLaunchKernel's {@code void** kernelParams}: each argument in its own 8-byte slot of native memory and
 * an array of the slots' addresses. cuLaunchKernel copies the values before it returns, so one instance is
 * reused for every launch of its backend (which serves one thread at a time). Arguments go in exactly the order
 * and C types of the ABI table: device pointers as 64-bit addresses, int, long long, float.
 */
final class KernelArgs {
    private static final int MAX_ARGS = 16;
    private static final long SLOT = 8;

    private final MemorySegment values;
    private final MemorySegment addresses;
    private final char[] kinds = new char[MAX_ARGS];
    private int count;

    KernelArgs(Arena arena) {
        values = arena.allocate(SLOT * MAX_ARGS, SLOT);
        addresses = arena.allocate(SLOT * MAX_ARGS, SLOT);
        for (int i = 0; i < MAX_ARGS; i++) {
            addresses.setAtIndex(ValueLayout.ADDRESS, i, values.asSlice(SLOT * i, SLOT));
        }
    }

    /** Starts a new argument list. */
    KernelArgs clear() {
        count = 0;
        return this;
    }

    /** A tensor's device address; null passes a null pointer (the kernels' optional weight and bias). */
    KernelArgs pointer(Tensor t) {
        return address(t == null ? 0 : t.data().address());
    }

    KernelArgs address(long address) {
        values.set(ValueLayout.JAVA_LONG, slot('p'), address);
        return this;
    }

    KernelArgs i32(int v) {
        values.set(ValueLayout.JAVA_INT, slot('i'), v);
        return this;
    }

    KernelArgs i64(long v) {
        values.set(ValueLayout.JAVA_LONG, slot('l'), v);
        return this;
    }

    KernelArgs f32(float v) {
        values.set(ValueLayout.JAVA_FLOAT, slot('f'), v);
        return this;
    }

    int count() {
        return count;
    }

    /**
     * Throws unless the arguments given since {@link #clear} have the kernel's parameter types: a kernel reads
     * its parameters by offset, so one int where a long long belongs would shift every later argument.
     */
    void checkAgainst(Kernel kernel) {
        String given = new String(kinds, 0, count);
        if (!given.equals(kernel.parameters)) {
            throw new IllegalStateException("kernel " + kernel.symbol + " takes parameters (" + kernel.parameters
                    + ") but was given (" + given + "); p pointer, l long long, i int, f float");
        }
    }

    /** The kernelParams pointer for the arguments given since {@link #clear}. */
    Pointer kernelParams() {
        return Handles.host(arrayAddress());
    }

    /** The address of the array of slot addresses (what kernelParams points at). */
    long arrayAddress() {
        return addresses.address();
    }

    private long slot(char kind) {
        if (count == MAX_ARGS) {
            throw new IllegalStateException("more than " + MAX_ARGS + " kernel arguments");
        }
        kinds[count] = kind;
        return SLOT * count++;
    }
}
