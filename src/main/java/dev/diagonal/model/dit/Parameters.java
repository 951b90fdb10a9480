package dev.diagonal.model.dit;

import dev.diagonal.backend.Backend;
import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;

import java.lang.foreign.Arena;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Loads a model's parameters onto a backend, strictly: every expected name with its exact shape, and no
 * unknown names. Matrices stay in their checkpoint dtype (a mapped view on the CPU, no copy); vectors
 * (biases, norm weights, modulations) are widened once to F32, since every op reads them per row.
 */
final class Parameters {
    private final ParameterSource source;
    private final Map<String, long[]> expected;
    private final Backend backend;
    private final Arena arena;

    Parameters(ParameterSource source, Map<String, long[]> expected, Backend backend, Arena arena) {
        Set<String> unknown = new TreeSet<>(source.names());
        unknown.removeAll(expected.keySet());
        if (!unknown.isEmpty()) {
            throw new IllegalArgumentException("checkpoint has " + unknown.size() + " parameters this model does not use: "
                    + abbreviate(unknown));
        }
        this.source = source;
        this.expected = expected;
        this.backend = backend;
        this.arena = arena;
    }

    Linear linear(String prefix) {
        return new Linear(matrix(prefix + ".weight"), vector(prefix + ".bias"));
    }

    /** A weight used by GEMM: kept in its dtype; copied to the device only when the backend is not the host. */
    Tensor matrix(String name) {
        Tensor t = load(name);
        if (t.device() == backend.device()) {
            return t;
        }
        Tensor onDevice = backend.allocate(arena, t.dtype(), t.shape());
        backend.copy(t, onDevice);
        return onDevice;
    }

    /** A small parameter widened to F32 on the backend's device. */
    Tensor vector(String name) {
        Tensor t = load(name);
        Tensor host = Tensor.allocate(arena, DType.F32, t.shape());
        host.copyFrom(t);
        if (backend.device() == host.device()) {
            return host;
        }
        Tensor onDevice = backend.allocate(arena, DType.F32, t.shape());
        backend.copy(host, onDevice);
        return onDevice;
    }

    private Tensor load(String name) {
        long[] shape = expected.get(name);
        if (shape == null) {
            throw new IllegalStateException("model code asks for '" + name + "', which the key contract does not list");
        }
        return source.get(name, shape);
    }

    private static String abbreviate(Set<String> names) {
        return names.size() <= 10 ? names.toString() : names.stream().limit(10).toList() + " and " + (names.size() - 10) + " more";
    }
}
