package dev.diagonal.backend.cpu;

import dev.diagonal.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** Widens F32 / BF16 / F16 runs of a host tensor into float arrays; BF16 is widened in vector registers. */
final class Widen {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED;
    /** Shorts with the same lane count as F, so one load widens to exactly one float vector. */
    private static final VectorSpecies<Short> S =
            VectorSpecies.of(short.class, VectorShape.forBitSize(F.vectorBitSize() / 2));
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private Widen() {
    }

    /** dst[dstOff .. dstOff+count) = t.flat[from .. from+count) widened to float. */
    static void run(Tensor t, long from, float[] dst, int dstOff, int count) {
        MemorySegment seg = t.data();
        switch (t.dtype()) {
            case F32 -> MemorySegment.copy(seg, F32, from * 4, dst, dstOff, count);
            case BF16 -> bf16(seg, from * 2, dst, dstOff, count);
            case F16 -> {
                for (int i = 0; i < count; i++) {
                    dst[dstOff + i] = Float.float16ToFloat(seg.get(I16, (from + i) * 2));
                }
            }
            default -> throw new IllegalArgumentException("cannot widen " + t);
        }
    }

    /** All of t as a new float array (for small parameters: norm weights, biases). */
    static float[] toArray(Tensor t) {
        float[] out = new float[Checks.toInt("widen", "element count", t.numel())];
        run(t, 0, out, 0, out.length);
        return out;
    }

    /** bf16 is the top half of an f32: sign-extend to int lanes, shift left 16, reinterpret. */
    private static void bf16(MemorySegment seg, long byteOff, float[] dst, int dstOff, int count) {
        int lanes = F.length();
        int i = 0;
        for (; i <= count - lanes; i += lanes) {
            ShortVector s = ShortVector.fromMemorySegment(S, seg, byteOff + 2L * i, LE);
            IntVector w = (IntVector) s.convertShape(VectorOperators.S2I, I, 0);
            w.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().intoArray(dst, dstOff + i);
        }
        for (; i < count; i++) {
            dst[dstOff + i] = Float.intBitsToFloat((seg.get(I16, byteOff + 2L * i) & 0xFFFF) << 16);
        }
    }
}
