package dev.diagonal.tensor;

/** Element types, named as safetensors names them. */
public enum DType {
    F64(8), F32(4), F16(2), BF16(2),
    I64(8), I32(4), I16(2), I8(1), U8(1), BOOL(1);

    private final int bytes;

    DType(int bytes) {
        this.bytes = bytes;
    }

    /** Bytes per element. */
    public int bytes() {
        return bytes;
    }

    /** True for the floating types the compute ops accept (F32, F16, BF16). */
    public boolean isComputeFloat() {
        return this == F32 || this == F16 || this == BF16;
    }

    /** The dtype with this safetensors name, or null when the name is not one we know. */
    public static DType fromSafetensorsName(String name) {
        for (DType d : values()) {
            if (d.name().equals(name)) {
                return d;
            }
        }
        return null;
    }
}
