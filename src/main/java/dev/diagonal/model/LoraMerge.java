package dev.diagonal.model;

import dev.diagonal.io.KeyMapper;
import dev.diagonal.io.WeightException;
import dev.diagonal.io.Weights;
import dev.diagonal.model.dit.ParameterSource;
import dev.diagonal.tensor.Tensor;

import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A base checkpoint with a LoRA adapter folded in, as LongLive and Diagonal Distillation ship theirs: for every
 * module with a pair {@code M.lora_A.weight} [rank, in] and {@code M.lora_B.weight} [out, rank], the model sees
 * {@code M.weight + scale · B · A} (peft's merge, scale = alpha / rank). Merged weights are computed once, in
 * float32, rounded to the base weight's dtype and owned by the caller's arena; every other weight stays a view of
 * the base checkpoint. Adapter keys are peft's ({@code base_model.model.} prefix, optionally the adapter name
 * {@code .default.}), normalized like checkpoint keys.
 */
public final class LoraMerge {
    private static final Pattern KEY = Pattern.compile("(.+)\\.lora_([AB])(?:\\.default)?\\.weight");

    private LoraMerge() {
    }

    /** The modules of an adapter checkpoint: normalized module name to its [A, B] raw tensors' names. */
    static Map<String, String[]> pairs(Weights adapter) {
        Map<String, String[]> out = new TreeMap<>();
        for (String name : adapter.names()) {
            Matcher m = KEY.matcher(name.startsWith("base_model.model.") ? name.substring("base_model.model.".length()) : name);
            if (!m.matches()) {
                throw new WeightException(WeightException.Reason.UNEXPECTED, "LoRA checkpoint "
                        + adapter.source(name) + " has '" + name + "', which is not a lora_A or lora_B weight");
            }
            String[] pair = out.computeIfAbsent(KeyMapper.normalize(m.group(1)), k -> new String[2]);
            pair[m.group(2).equals("A") ? 0 : 1] = name;
        }
        out.forEach((module, pair) -> {
            if (pair[0] == null || pair[1] == null) {
                throw new WeightException(WeightException.Reason.MISSING, "LoRA module '" + module + "' has only its lora_"
                        + (pair[0] == null ? "B" : "A") + " weight");
            }
        });
        return out;
    }

    /**
     * The base's parameters with the adapter merged in. Every adapter module must name a 2-D weight of the base
     * with matching sizes, and the adapter's rank must be {@code rank}.
     *
     * @throws WeightException naming the module when the adapter does not fit the base
     */
    public static ParameterSource merge(ParameterSource base, Weights adapter, int rank, double scale, Arena arena) {
        Map<String, Tensor> merged = new HashMap<>();
        for (Map.Entry<String, String[]> e : pairs(adapter).entrySet()) {
            String weight = e.getKey() + ".weight";
            if (!base.names().contains(weight)) {
                throw new WeightException(WeightException.Reason.UNEXPECTED, "LoRA module '" + e.getKey()
                        + "' has no weight '" + weight + "' in the base checkpoint");
            }
            long[] aShape = adapter.info(e.getValue()[0]).shape();
            long[] bShape = adapter.info(e.getValue()[1]).shape();
            if (aShape.length != 2 || bShape.length != 2 || aShape[0] != rank || bShape[1] != rank) {
                throw new WeightException(WeightException.Reason.WRONG_SHAPE, "LoRA module '" + e.getKey() + "': A "
                        + Arrays.toString(aShape) + " and B " + Arrays.toString(bShape) + " are not [" + rank
                        + ", in] and [out, " + rank + "]");
            }
            Tensor w = base.get(weight, new long[]{bShape[0], aShape[1]});
            Tensor a = adapter.get(e.getValue()[0], aShape);
            Tensor b = adapter.get(e.getValue()[1], bShape);
            merged.put(weight, fold(w, a, b, scale, arena));
        }
        adapter.requireAllUsed();
        return new ParameterSource() {
            @Override
            public Tensor get(String name, long[] shape) {
                Tensor m = merged.get(name);
                if (m == null) {
                    return base.get(name, shape);
                }
                base.get(name, shape); // the base's own shape check and bookkeeping
                return m;
            }

            @Override
            public Set<String> names() {
                return base.names();
            }
        };
    }

    /** W + scale · B · A, row by row in float32 (the inner loop runs along the contiguous input axis). */
    static Tensor fold(Tensor w, Tensor a, Tensor b, double scale, Arena arena) {
        int out = (int) w.dim(0);
        int in = (int) w.dim(1);
        int rank = (int) a.dim(0);
        float[] af = a.toFloatArray();
        float[] bf = b.toFloatArray();
        Tensor result = Tensor.allocate(arena, w.dtype(), out, in);
        float[] row = new float[in];
        float s = (float) scale;
        for (int o = 0; o < out; o++) {
            Arrays.fill(row, 0f);
            for (int r = 0; r < rank; r++) {
                float c = bf[o * rank + r];
                int base = r * in;
                for (int i = 0; i < in; i++) {
                    row[i] += c * af[base + i];
                }
            }
            long at = (long) o * in;
            for (int i = 0; i < in; i++) {
                result.setFloat(at + i, w.getFloat(at + i) + s * row[i]);
            }
        }
        return result;
    }
}
