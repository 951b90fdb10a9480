package dev.diagonal.io;

import dev.diagonal.io.WeightException.Reason;
import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Predicate;
import java.util.stream.Collectors;

/**
 * A strict name-to-tensor view over one or more checkpoint files (safetensors or PyTorch, see {@link TensorFile};
 * several for a sharded checkpoint), with keys normalized
 * by {@link KeyMapper}. Model code asks for each weight with the shape it expects; anything that does not fit
 * fails at once with a {@link WeightException} naming the file, the tensor, and expected against actual. After
 * loading, {@link #requireAllUsed()} catches weights the model never asked for, so a checkpoint for a different
 * architecture cannot load silently.
 *
 * <p>Tensors are views into the mapped files and live until {@link #close()}.
 */
public final class Weights implements AutoCloseable {
    /** What {@link #get(String, long...)} accepts: the float types the compute ops widen. */
    public static final Set<DType> FLOAT_DTYPES = Collections.unmodifiableSet(EnumSet.of(DType.F32, DType.F16, DType.BF16));
    /** How many names a message lists before it summarizes the rest. */
    private static final int NAMES_SHOWN = 20;

    private record Entry(TensorFile file, String rawKey) {
    }

    private final List<TensorFile> files;
    private final SortedMap<String, Entry> entries;
    private final List<String> notes;
    private final Set<String> used = ConcurrentHashMap.newKeySet();

    private Weights(List<TensorFile> files, SortedMap<String, Entry> entries, List<String> notes) {
        this.files = files;
        this.entries = entries;
        this.notes = notes;
    }

    /** Opens and indexes the files; on any failure the files already opened are closed again. */
    public static Weights open(Path... paths) throws IOException {
        return open(List.of(paths));
    }

    /** Opens and indexes the files; on any failure the files already opened are closed again. */
    public static Weights open(List<Path> paths) throws IOException {
        return open(paths, List.of());
    }

    /**
     * Opens and indexes the files, each read by its content as safetensors or a PyTorch checkpoint; on any failure
     * the files already opened are closed again.
     *
     * @param stateDicts for PyTorch checkpoints, the nested state dicts to prefer (a family's, see
     *                   {@link KeyMapper#findStateDict}); empty for the default order
     */
    public static Weights open(List<Path> paths, List<String> stateDicts) throws IOException {
        List<TensorFile> opened = new ArrayList<>();
        try {
            for (Path p : paths) {
                opened.add(TensorFile.open(p, stateDicts));
            }
            return of(opened);
        } catch (Throwable t) {
            opened.forEach(TensorFile::close);
            throw t;
        }
    }

    /**
     * Indexes files that are already open. The Weights takes them over and closes them on {@link #close()};
     * if this throws, they stay the caller's to close.
     *
     * @throws WeightException (KEY_COLLISION) when two keys, in one file or in two, normalize to the same name
     */
    public static Weights of(List<? extends TensorFile> files) {
        SortedMap<String, Entry> entries = new TreeMap<>();
        List<String> notes = new ArrayList<>();
        for (TensorFile f : files) {
            Map<String, String> normalized = KeyMapper.normalizeAll(f.names(), f.path());
            String dropped = droppedPrefixes(normalized);
            if (!f.origin().isEmpty() || !dropped.isEmpty()) {
                notes.add(f.path().getFileName() + ": " + (f.origin().isEmpty() ? "" : f.origin())
                        + (dropped.isEmpty() ? "" : (f.origin().isEmpty() ? "" : ", ") + "key prefixes dropped: " + dropped));
            }
            for (Map.Entry<String, String> e : normalized.entrySet()) {
                Entry previous = entries.putIfAbsent(e.getKey(), new Entry(f, e.getValue()));
                if (previous != null) {
                    throw new WeightException(Reason.KEY_COLLISION, "tensor '" + Strings.clip(e.getKey())
                            + "' is in both " + previous.file().path() + " (key '" + Strings.clip(previous.rawKey())
                            + "') and " + f.path() + " (key '" + Strings.clip(e.getValue()) + "')");
                }
            }
        }
        return new Weights(List.copyOf(files), Collections.unmodifiableSortedMap(entries), List.copyOf(notes));
    }

    /** What was chosen inside each file (nested state dict, prefixes dropped), one line per file that needed it. */
    public List<String> notes() {
        return notes;
    }

    /** The distinct leading parts KeyMapper removed ("model.", "generator._fsdp_wrapped_module."), a few at most. */
    private static String droppedPrefixes(Map<String, String> normalized) {
        java.util.Set<String> seen = new java.util.TreeSet<>();
        for (Map.Entry<String, String> e : normalized.entrySet()) {
            String raw = e.getValue();
            if (!raw.equals(e.getKey()) && raw.endsWith(e.getKey())) {
                seen.add("'" + Strings.clip(raw.substring(0, raw.length() - e.getKey().length())) + "'");
            } else if (!raw.equals(e.getKey())) {
                seen.add("inner wrapper segments");
            }
            if (seen.size() >= 3) {
                break;
            }
        }
        return String.join(", ", seen);
    }

    /** A weight of dtype F32, F16 or BF16 with exactly {@code expectedShape} (empty means a scalar). */
    public Tensor get(String name, long... expectedShape) {
        return get(name, FLOAT_DTYPES, expectedShape);
    }

    /** A weight of exactly this dtype and shape. */
    public Tensor get(String name, DType dtype, long... expectedShape) {
        return get(name, EnumSet.of(dtype), expectedShape);
    }

    /**
     * A weight whose dtype is one of {@code allowed} and whose shape is exactly {@code expectedShape}; marks it used.
     *
     * @throws WeightException MISSING, WRONG_DTYPE or WRONG_SHAPE
     */
    public Tensor get(String name, Set<DType> allowed, long... expectedShape) {
        Entry e = entry(name);
        TensorInfo info = e.file().info(e.rawKey());
        if (!allowed.contains(info.dtype())) {
            throw new WeightException(Reason.WRONG_DTYPE, where(name, e) + " has dtype " + info.dtype()
                    + ", expected " + (allowed.size() == 1 ? "" : "one of ") + describe(allowed));
        }
        if (!Arrays.equals(info.shape(), expectedShape)) {
            throw new WeightException(Reason.WRONG_SHAPE, where(name, e) + " has shape " + Arrays.toString(info.shape())
                    + ", expected " + Arrays.toString(expectedShape));
        }
        used.add(name);
        return e.file().tensor(e.rawKey());
    }

    /** The weight's header entry (its raw key, dtype, shape), without marking it used; for models that size
     * themselves from the checkpoint. */
    public TensorInfo info(String name) {
        Entry e = entry(name);
        return e.file().info(e.rawKey());
    }

    /** True when the checkpoint has this (normalized) name. */
    public boolean has(String name) {
        return entries.containsKey(name);
    }

    /** All normalized names, sorted. */
    public Set<String> names() {
        return entries.keySet();
    }

    /** The file a weight comes from. */
    public Path source(String name) {
        return entry(name).file().path();
    }

    /** Marks weights as used without fetching them: for keys a model knowingly ignores. */
    public void markUsed(Collection<String> names) {
        for (String n : names) {
            entry(n);
            used.add(n);
        }
    }

    /** Names never fetched with get or marked used, sorted. */
    public Set<String> unused() {
        return entries.keySet().stream().filter(n -> !used.contains(n))
                .collect(Collectors.toCollection(java.util.TreeSet::new));
    }

    /** Fails naming every weight the model did not fetch: strict loading, nothing silently ignored. */
    public void requireAllUsed() {
        requireAllUsed(n -> false);
    }

    /** Like {@link #requireAllUsed()}, but names for which {@code mayBeUnused} holds are let through. */
    public void requireAllUsed(Predicate<String> mayBeUnused) {
        List<String> bad = unused().stream().filter(mayBeUnused.negate()).toList();
        if (!bad.isEmpty()) {
            throw new WeightException(Reason.UNEXPECTED, bad.size() + " weight(s) in " + filesText()
                    + " were never used by the model: " + list(bad));
        }
    }

    /** Fails naming every weight in the checkpoint that is not in {@code expected}. */
    public void checkNoUnknown(Collection<String> expected) {
        Set<String> known = Set.copyOf(expected);
        List<String> bad = entries.keySet().stream().filter(n -> !known.contains(n)).toList();
        if (!bad.isEmpty()) {
            throw new WeightException(Reason.UNEXPECTED, bad.size() + " unexpected weight(s) in " + filesText()
                    + ": " + list(bad));
        }
    }

    /** Closes every file; tensors fetched from here must not be used afterwards. */
    @Override
    public void close() {
        files.forEach(TensorFile::close);
    }

    private Entry entry(String name) {
        Entry e = entries.get(name);
        if (e == null) {
            throw new WeightException(Reason.MISSING, "tensor '" + Strings.clip(name) + "' is not in " + filesText());
        }
        return e;
    }

    private static String where(String name, Entry e) {
        String raw = e.rawKey().equals(name) ? "" : " (key '" + Strings.clip(e.rawKey()) + "')";
        return e.file().path() + ": tensor '" + Strings.clip(name) + "'" + raw;
    }

    private static String describe(Set<DType> dtypes) {
        return dtypes.stream().map(DType::name).sorted().collect(Collectors.joining(", "));
    }

    private String filesText() {
        return files.size() == 1 ? files.getFirst().path().toString()
                : files.stream().map(f -> f.path().toString()).collect(Collectors.joining(", ", "[", "]"));
    }

    private static String list(List<String> names) {
        String shown = names.stream().limit(NAMES_SHOWN).map(n -> "'" + Strings.clip(n) + "'")
                .collect(Collectors.joining(", "));
        return names.size() > NAMES_SHOWN ? shown + " and " + (names.size() - NAMES_SHOWN) + " more" : shown;
    }
}
