package dev.diagonal.io;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

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

    private KeyMapper() {
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
