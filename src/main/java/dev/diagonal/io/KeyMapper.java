package dev.diagonal.io;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Predicate;

/**
 * Maps raw checkpoint keys to the names model code uses, undoing the prefixes that training wrappers add.
 *
 * <ul>
 *   <li>A leading run of {@code model.}, {@code generator.}, {@code module.}, {@code _orig_mod.},
 *       {@code _fsdp_wrapped_module.} and {@code _checkpoint_wrapped_module.} segments is dropped, in any order
 *       and repetition: {@code generator.module.model.blocks.0.x} becomes {@code blocks.0.x}.</li>
 *   <li>{@code _fsdp_wrapped_module}, {@code _checkpoint_wrapped_module} and {@code _orig_mod} segments are also
 *       dropped mid-key, where FSDP, activation checkpointing and torch.compile wrap inner modules:
 *       {@code blocks.0._fsdp_wrapped_module.ffn.0.weight} becomes {@code blocks.0.ffn.0.weight}. Plain
 *       {@code model}/{@code module}/{@code generator} are kept mid-key, where they can be real submodule
 *       names.</li>
 *   <li>The last segment (the parameter name) is never dropped, so no key maps to an empty name.</li>
 * </ul>
 * Only whole dot-separated segments match: {@code modelling.x} and {@code my_module.x} are left alone.
 */
public final class KeyMapper {
    private static final Set<String> LEADING = Set.of("model", "generator", "module", "_orig_mod",
            "_fsdp_wrapped_module", "_checkpoint_wrapped_module");
    private static final Set<String> ANYWHERE = Set.of("_orig_mod", "_fsdp_wrapped_module", "_checkpoint_wrapped_module");

    /**
     * Where training scripts nest a model's state dict inside a checkpoint, in the order tried when the caller
     * has no preference: EMA weights first, as Self-Forcing's README loads them (--use_ema); LongLive's adapter
     * files nest theirs under generator_lora.
     */
    public static final List<String> NESTING_KEYS = List.of("generator_ema", "generator", "model", "state_dict", "module",
            "generator_lora");
    /** How deep nesting keys are followed ({"model": {"state_dict": {...}}} is depth 2). */
    private static final int MAX_NESTING = 3;

    private KeyMapper() {
    }

    /**
     * The state dict chosen inside a checkpoint's root object.
     *
     * @param path       the nesting keys followed, joined by '/' ("" for the root itself)
     * @param tensors    the chosen dict's entries whose values are tensors (string keys only)
     * @param skipped    keys of the chosen dict whose values are not tensors, sorted
     * @param candidates the nesting keys present where the choice was made, for the log
     */
    public record StateDict(String path, Map<String, Object> tensors, List<String> skipped, List<String> candidates) {
        /** One line for logs: which dict, what else was there, what was skipped. */
        public String describe() {
            String where = path.isEmpty() ? "the root state dict" : "state dict '" + path + "'";
            List<String> others = candidates.stream().filter(c -> !path.endsWith(c)).toList();
            return where + " (" + tensors.size() + " tensors" + (others.isEmpty() ? "" : "; also there: " + others)
                    + (skipped.isEmpty() ? "" : "; non-tensor entries skipped: " + skipped.stream().limit(5).toList()
                    + (skipped.size() > 5 ? " and " + (skipped.size() - 5) + " more" : "")) + ")";
        }
    }

    /**
     * Finds the state dict in a checkpoint's root: the root itself when it holds tensors, else the first of
     * {@code preferred} (then {@link #NESTING_KEYS}) whose value holds tensors, followed up to three levels deep.
     *
     * @param isTensor which values are tensors
     * @return the choice, or null when no dict of tensors is found
     */
    public static StateDict findStateDict(Object root, List<String> preferred, Predicate<Object> isTensor) {
        List<String> order = new ArrayList<>(preferred);
        NESTING_KEYS.stream().filter(k -> !order.contains(k)).forEach(order::add);
        Object node = root;
        List<String> path = new ArrayList<>();
        List<String> siblings = List.of();
        for (int depth = 0; depth <= MAX_NESTING && node instanceof Map<?, ?> map; depth++) {
            List<String> present = order.stream().filter(k -> map.get(k) instanceof Map<?, ?>).toList();
            if (map.values().stream().anyMatch(isTensor)) {
                Map<String, Object> tensors = new TreeMap<>();
                List<String> skipped = new ArrayList<>();
                for (Map.Entry<?, ?> e : map.entrySet()) {
                    String key = e.getKey() instanceof String k ? k : String.valueOf(e.getKey());
                    if (e.getKey() instanceof String && isTensor.test(e.getValue())) {
                        tensors.put(key, e.getValue());
                    } else {
                        skipped.add(Strings.clip(key));
                    }
                }
                Collections.sort(skipped);
                return new StateDict(String.join("/", path), Collections.unmodifiableMap(tensors), List.copyOf(skipped),
                        path.isEmpty() ? present : siblings);
            }
            Object next = null;
            siblings = present;
            for (String k : present) {
                if (holdsTensors(map.get(k), isTensor)) {
                    next = map.get(k);
                    path.add(k);
                    break;
                }
            }
            if (next == null && !present.isEmpty()) { // a nested dict that nests again ({"model": {"state_dict": ...}})
                next = map.get(present.getFirst());
                path.add(present.getFirst());
            }
            node = next;
        }
        return null;
    }

    private static boolean holdsTensors(Object o, Predicate<Object> isTensor) {
        return o instanceof Map<?, ?> m && m.values().stream().anyMatch(isTensor);
    }

    /** The normalized name of one raw key. */
    public static String normalize(String rawKey) {
        String[] parts = rawKey.split("\\.", -1); // -1 keeps empty segments, so "a..b" round-trips unchanged
        int last = parts.length - 1;
        int start = 0;
        while (start < last && LEADING.contains(parts[start])) {
            start++;
        }
        List<String> kept = new ArrayList<>(parts.length - start);
        for (int i = start; i < parts.length; i++) {
            if (i == last || !ANYWHERE.contains(parts[i])) {
                kept.add(parts[i]);
            }
        }
        return String.join(".", kept);
    }

    /**
     * Normalizes every key, returning normalized name to raw key in sorted order.
     *
     * @param source names where the keys came from, for the collision message (a file path)
     * @throws WeightException (KEY_COLLISION) when two raw keys map to the same name
     */
    public static Map<String, String> normalizeAll(Collection<String> rawKeys, Object source) {
        Map<String, String> out = new TreeMap<>();
        for (String raw : rawKeys) {
            String name = normalize(raw);
            String previous = out.putIfAbsent(name, raw);
            if (previous != null) {
                throw new WeightException(WeightException.Reason.KEY_COLLISION, source + ": keys '"
                        + Strings.clip(previous) + "' and '" + Strings.clip(raw) + "' both normalize to tensor '"
                        + Strings.clip(name) + "'");
            }
        }
        return Collections.unmodifiableMap(out);
    }
}
