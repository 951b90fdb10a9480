package dev.diagonal.model.vae;

import dev.diagonal.backend.Backend;
import dev.diagonal.model.dit.ParameterSource;
import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Tensor;

import java.lang.foreign.Arena;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Loads the decoder's parameters strictly (every name of {@link VaeKeys} with its shape, nothing unknown)
 * and moves them into the layouts the ops want, once: conv weights [Cout, Cin, kt, kh, kw] become F32
 * [Cout, kt, kh, kw, Cin] (channels-last patches), everything else F32. The decoder is small (Wan's has 73M
 * parameters), so widening at load costs little and keeps the conv GEMM on its fastest path.
 */
final class VaeParameters {
    private final ParameterSource source;
    private final Map<String, long[]> expected;
    private final Backend backend;
    private final Arena arena;

    VaeParameters(ParameterSource source, Map<String, long[]> expected, Backend backend, Arena arena) {
        Set<String> unknown = new TreeSet<>(source.names());
        unknown.removeAll(expected.keySet());
        if (!unknown.isEmpty()) {
            throw new IllegalArgumentException("VAE checkpoint has " + unknown.size()
                    + " parameters the decoder does not use: " + (unknown.size() <= 10 ? unknown
                    : unknown.stream().limit(10).toList() + " and " + (unknown.size() - 10) + " more"));
        }
        this.source = source;
        this.expected = expected;
        this.backend = backend;
        this.arena = arena;
    }

    /** A Conv3d (or Conv2d, as kt = 1) weight in the conv3d op's layout [Cout, kt, kh, kw, Cin]. */
    Tensor conv(String name) {
        Tensor w = load(name);
        long cout = w.dim(0), cin = w.dim(1);
        long kt = w.rank() == 5 ? w.dim(2) : 1, kh = w.dim(w.rank() - 2), kw = w.dim(w.rank() - 1);
        Tensor host = Tensor.allocate(arena, DType.F32, cout, kt, kh, kw, cin);
        long taps = kt * kh * kw;
        for (long o = 0; o < cout; o++) {
            for (long i = 0; i < cin; i++) {
                for (long p = 0; p < taps; p++) {
                    host.setFloat((o * taps + p) * cin + i, w.getFloat((o * cin + i) * taps + p));
                }
            }
        }
        return onDevice(host);
    }

    /** Any other parameter, widened to F32 and flattened to a vector. */
    Tensor vector(String name) {
        Tensor t = load(name);
        Tensor host = Tensor.allocate(arena, DType.F32, t.numel());
        host.copyFrom(t.reshape(t.numel()));
        return onDevice(host);
    }

    /** A 1x1 Conv2d as a Linear weight [Cout, Cin], F32. */
    Tensor matrix(String name) {
        Tensor t = load(name);
        Tensor host = Tensor.allocate(arena, DType.F32, t.dim(0), t.numel() / t.dim(0));
        host.copyFrom(t.reshape(host.shape()));
        return onDevice(host);
    }

    private Tensor onDevice(Tensor host) {
        if (backend.device() == host.device()) {
            return host;
        }
        Tensor d = backend.allocate(arena, DType.F32, host.shape());
        backend.copy(host, d);
        return d;
    }

    private Tensor load(String name) {
        long[] shape = expected.get(name);
        if (shape == null) {
            throw new IllegalStateException("decoder code asks for '" + name + "', which VaeKeys does not list");
        }
        return source.get(name, shape);
    }
}
