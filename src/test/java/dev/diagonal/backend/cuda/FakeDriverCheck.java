package dev.diagonal.backend.cuda;

import dev.diagonal.tensor.DType;
import dev.diagonal.tensor.Device;
import dev.diagonal.tensor.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The CUDA backend's plumbing against stand-in driver and cuBLAS libraries (fake_cuda.c, fake_cublas.c): run
 * by {@link FakeDriverTest} in a child JVM whose LD_LIBRARY_PATH finds them as libcuda.so.1 and
 * libcublas.so.13. Device memory is host memory there and launches are logged, not run, so this checks what
 * reaches the driver (addresses, argument slots, grids, copies, frees), not what kernels compute.
 */
final class FakeDriverCheck {
    private static final long INT_MASK = 0xffff_ffffL;

    private final MethodHandle log;
    private final MethodHandle clear;
    private final MethodHandle live;
    private final MethodHandle gemmRecord;

    private FakeDriverCheck() {
        Linker linker = Linker.nativeLinker();
        SymbolLookup cuda = SymbolLookup.libraryLookup("libcuda.so.1", Arena.global());
        SymbolLookup cublas = SymbolLookup.libraryLookup("libcublas.so.13", Arena.global());
        log = linker.downcallHandle(cuda.find("fake_log").orElseThrow(), FunctionDescriptor.of(ADDRESS));
        clear = linker.downcallHandle(cuda.find("fake_log_clear").orElseThrow(), FunctionDescriptor.ofVoid());
        live = linker.downcallHandle(cuda.find("fake_live_allocations").orElseThrow(), FunctionDescriptor.of(JAVA_LONG));
        gemmRecord = linker.downcallHandle(cublas.find("fake_record").orElseThrow(),
                FunctionDescriptor.ofVoid(ADDRESS, ADDRESS, ADDRESS));
    }

    public static void main(String[] args) {
        try {
            new FakeDriverCheck().run();
            System.out.println("FAKE DRIVER CHECK OK");
        } catch (Throwable t) {
            t.printStackTrace(System.out);
            System.exit(1);
        }
    }

    private void run() throws Throwable {
        try {
            CudaBackend.open(1);
            throw new AssertionError("device 1 of a one-device machine opened");
        } catch (CudaUnavailableException e) {
            check(e.getMessage().equals("CUDA device 1 does not exist: this machine has 1 (cuda:0)"), e.getMessage());
        }
        CudaBackend gpu = CudaBackend.open(0);
        check(gpu.describe().equals("cuda:0: Fake GPU (compute 9.0, 132 SMs, 16.0 GiB), cuBLAS libcublas.so.13"),
                gpu.describe());
        check(logText().contains("stream flags 0\n"), "a blocking stream: " + logText());
        check(live() == 0, "nothing allocated yet");
        try (Arena arena = Arena.ofShared()) {
            copies(gpu, arena);
            launches(gpu, arena);
            linear(gpu, arena);
            contract(gpu, arena);
        }
        check(live() == 1, "after the arena closed only linear's scratch is left, got " + live());
        gpu.close();
        check(live() == 0, "close frees the scratch, got " + live());
        check(logText().contains("stream destroyed\nrelease 0\n"), logText());
        gpu.close(); // twice is harmless

        // Tensors that outlive their backend: the context went with it, so their frees are skipped, not failed.
        CudaBackend again = CudaBackend.open(0);
        Arena late = Arena.ofShared();
        again.allocate(late, DType.F32, 4);
        again.close();
        late.close();
        check(live() == 1, "the memory went with the released context (the stand-in keeps it), got " + live());
    }

    private void copies(CudaBackend gpu, Arena arena) throws Throwable {
        float[] v = new float[1000];
        for (int i = 0; i < v.length; i++) {
            v[i] = i * 0.5f - 7;
        }
        Tensor host = Tensor.ofFloats(arena, v, 10, 100);
        Tensor d = gpu.allocate(arena, DType.F32, 10, 100);
        check(d.device() == Device.CUDA && d.byteSize() == 4000, d.toString());
        Tensor back = Tensor.allocate(arena, DType.F32, 10, 100);
        back.copyFrom(host);
        gpu.copy(d, back);
        check(Arrays.equals(back.toFloatArray(), new float[1000]), "allocate zero-fills");
        gpu.copy(host, d);
        Tensor d2 = gpu.allocate(arena, DType.F32, 10, 100);
        gpu.copy(d, d2);
        gpu.copy(d2, back);
        check(Arrays.equals(back.toFloatArray(), v), "host -> device -> device -> host");
        // Heap memory has no native address: it goes through a staging buffer both ways.
        float[] heap = new float[1000];
        Tensor onHeap = Tensor.of(MemorySegment.ofArray(heap), DType.F32, 10, 100);
        gpu.copy(d2, onHeap);
        check(Arrays.equals(heap, v), "device -> heap");
        heap[3] = 42;
        gpu.copy(onHeap, d);
        gpu.copy(d, back);
        check(back.getFloat(3) == 42f, "heap -> device");
        // Rows between tensors of another dtype: a plain device copy at the right offsets.
        Tensor bf = gpu.allocate(arena, DType.BF16, 6, 3);
        Tensor bfHost = Tensor.allocate(arena, DType.BF16, 6, 3);
        for (int i = 0; i < 18; i++) {
            bfHost.setFloat(i, i);
        }
        Tensor bf2 = gpu.allocate(arena, DType.BF16, 6, 3);
        gpu.copy(bfHost, bf);
        clear();
        gpu.copyRows(bf, 1, bf2, 4, 2);
        check(logText().equals("dtod 12\n"), logText());
        Tensor bfBack = Tensor.allocate(arena, DType.BF16, 6, 3);
        gpu.copy(bf2, bfBack);
        check(bfBack.getFloat(12) == 3f && bfBack.getFloat(17) == 8f && bfBack.getFloat(11) == 0f, "bf16 rows 1..2 -> 4..5");
        // Rows of a device view: its address is the view's.
        Tensor view = d.rows(2, 3);
        check(view.data().address() == d.data().address() + 800, "a view's address");
    }

    private void launches(CudaBackend gpu, Arena arena) throws Throwable {
        Tensor x = gpu.allocate(arena, DType.F32, 10, 100);
        Tensor y = gpu.allocate(arena, DType.F32, 10, 100);
        long xa = x.data().address();
        long ya = y.data().address();

        clear();
        gpu.add(x, y);
        expect("add_f32", new long[] {4, 1, 1, 256, 1, 1, 0}, new long[] {xa, ya, 1000});

        clear();
        gpu.copyRows(x, 4, x, 1, 5); // the KV cache's overlapping shift
        expect("copy_rows_f32", new long[] {2, 1, 1, 256, 1, 1, 0}, new long[] {xa + 1600, xa + 400, 5, 100 | 1L << 63});

        clear();
        gpu.layerNorm(x, null, null, 1e-6f, y);
        expect("layer_norm_f32", new long[] {10, 1, 1, 256, 1, 1, 0},
                new long[] {xa, 0, 0, bits(1e-6f) | 1L << 63, ya, 10, 100 | 1L << 63});

        clear();
        Tensor shift = gpu.allocate(arena, DType.F32, 2, 100);
        Tensor scale = gpu.allocate(arena, DType.F32, 2, 100);
        gpu.modulate(x, shift, scale, 5, x);
        expect("modulate_f32", new long[] {4, 1, 1, 256, 1, 1, 0}, new long[] {xa, shift.data().address(),
                scale.data().address(), xa, 10, 100 | 1L << 63, 5 | 1L << 63});

        clear();
        Tensor q = gpu.allocate(arena, DType.F32, 130, 256);
        Tensor kv = gpu.allocate(arena, DType.F32, 70, 256);
        Tensor out = gpu.allocate(arena, DType.F32, 130, 256);
        gpu.attention(q, kv, kv, out, 2, 64, 16);
        expect("attention_f32", new long[] {3, 2, 1, 128, 1, 1, 256 * 136}, new long[] {q.data().address(),
                kv.data().address(), kv.data().address(), out.data().address(), 130 | 1L << 63, 70 | 1L << 63,
                2 | 1L << 63, 128 | 1L << 63, 64, 16, bits((float) (1 / Math.sqrt(128))) | 1L << 63});

        clear();
        Tensor bq = gpu.allocate(arena, DType.F32, 3, 64);
        Tensor bk = gpu.allocate(arena, DType.F32, 13_000, 64);
        Tensor bias = gpu.allocate(arena, DType.F32, 1, 3, 13_000);
        Tensor bo = gpu.allocate(arena, DType.F32, 3, 64);
        gpu.biasedAttention(bq, bk, bk, bias, 1, 1f, bo);
        // 4 * (64 + 13000) bytes of shared memory is past the default 48 KiB: the kernel is opted in first
        // (attribute 8 = CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES).
        check(logText().startsWith("attribute biased_attention_f32 8 52256\n"), logText());
        expect("biased_attention_f32", new long[] {3, 1, 1, 128, 1, 1, 52256}, new long[] {bq.data().address(),
                bk.data().address(), bk.data().address(), bias.data().address(), bo.data().address(), 3 | 1L << 63,
                13_000 | 1L << 63, 1 | 1L << 63, 64 | 1L << 63, bits(1f) | 1L << 63});

        clear();
        Tensor frames = gpu.allocate(arena, DType.F32, 3, 20, 40, 3);
        Tensor error = gpu.allocate(arena, DType.F32, 2);
        gpu.copy(Tensor.ofFloats(arena, new float[] {5, 6}, 2), error);
        gpu.flowWarpError(frames, 7, 0.02f, error);
        expect("flow_warp_error_f32", new long[] {3, 2, 2, 16, 16, 1, 0}, new long[] {frames.data().address(),
                error.data().address(), 3 | 1L << 63, 20 | 1L << 63, 40 | 1L << 63, 3 | 1L << 63, 7 | 1L << 63,
                bits(0.02f) | 1L << 63});
        Tensor e = Tensor.allocate(arena, DType.F32, 2);
        gpu.copy(error, e);
        check(e.getFloat(0) == 0 && e.getFloat(1) == 0, "flowWarpError zeroes error before the kernel adds to it");

        clear();
        Tensor cx = gpu.allocate(arena, DType.F32, 4, 6, 7, 8);
        Tensor cw = gpu.allocate(arena, DType.BF16, 70, 3, 3, 3, 8);
        Tensor cout = gpu.allocate(arena, DType.F32, 2, 6, 7, 70);
        gpu.conv3d(cx, cw, null, cout);
        expect("conv3d_bf16", new long[] {2, 2, 1, 256, 1, 1, 0}, new long[] {cx.data().address(), cw.data().address(),
                0, cout.data().address(), 4 | 1L << 63, 6 | 1L << 63, 7 | 1L << 63, 8 | 1L << 63, 70 | 1L << 63,
                3 | 1L << 63, 3 | 1L << 63, 3 | 1L << 63});

        clear();
        gpu.flowStep(x, y, y, 0.5f, 0.25f, y, x);
        expect("flow_step_f32", new long[] {4, 1, 1, 256, 1, 1, 0}, new long[] {xa, ya, ya, bits(0.5f) | 1L << 63,
                bits(0.25f) | 1L << 63, ya, xa, 1000});

        check(gpu.timeMillis(() -> gpu.add(x, y)) == 0.25f, "event timing");
    }

    private void linear(CudaBackend gpu, Arena arena) throws Throwable {
        Tensor x = gpu.allocate(arena, DType.F32, 10, 100);
        Tensor w = gpu.allocate(arena, DType.BF16, 50, 100);
        Tensor bias = gpu.allocate(arena, DType.F32, 50);
        Tensor out = gpu.allocate(arena, DType.F32, 10, 50);
        long before = live();
        clear();
        gpu.linear(x, w, bias, out);
        check(live() == before + 1, "the first bf16 linear allocates the scratch");
        List<long[]> l = launches();
        check(l.size() == 2, logText());
        long scratch = l.get(0)[1 + 7 + 1];
        expectLine("to_bf16", l.get(0), new long[] {4, 1, 1, 256, 1, 1, 0}, new long[] {x.data().address(), scratch, 1000});
        expectLine("add_row_f32", l.get(1), new long[] {2, 1, 1, 256, 1, 1, 0},
                new long[] {out.data().address(), bias.data().address(), 10, 50 | 1L << 63});
        // cublasGemmEx: C[m = 50, n = 10] = Aᵀ B with A = w (lda = k), B = the bf16 copy of x (ldb = k), ldc = m.
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ints = a.allocate(JAVA_INT, 32);
            MemorySegment floats = a.allocate(JAVA_FLOAT, 2);
            MemorySegment ptrs = a.allocate(JAVA_LONG, 8);
            gemmRecord.invokeExact(ints, floats, ptrs);
            int[] call = Arrays.copyOfRange(ints.toArray(JAVA_INT), 8, 22);
            check(Arrays.equals(call, new int[] {1, 1, 0, 50, 10, 100, 14, 100, 14, 100, 0, 50, 68, -1}),
                    Arrays.toString(call));
            check(ptrs.getAtIndex(JAVA_LONG, 1) == w.data().address() && ptrs.getAtIndex(JAVA_LONG, 2) == scratch
                    && ptrs.getAtIndex(JAVA_LONG, 3) == out.data().address(), "gemm operands");
        }
        clear();
        gpu.linear(x, gpu.allocate(arena, DType.F32, 50, 100), null, out);
        check(logText().isEmpty(), "an F32 linear without bias launches no kernel of ours: " + logText());
    }

    private void contract(CudaBackend gpu, Arena arena) throws Throwable {
        Tensor d = gpu.allocate(arena, DType.F32, 4);
        Tensor h = Tensor.allocate(arena, DType.F32, 4);
        try {
            gpu.add(d, h);
            throw new AssertionError("a host tensor was accepted");
        } catch (IllegalArgumentException e) {
            check(e.getMessage().startsWith("add: y is not a CUDA tensor"), e.getMessage());
        }
        try {
            gpu.allocate(arena, DType.U8, 1L << 40);
            throw new AssertionError("a terabyte fit");
        } catch (CudaOutOfMemoryException e) {
            check(e.getMessage().equals("cuda:0: out of device memory allocating 1099511627776 bytes (1024.00 GiB);"
                    + " 8.00 GiB free of 16.00 GiB"), e.getMessage());
        }
        // Another thread: the backend makes its context current there.
        CompletableFuture.runAsync(() -> gpu.add(d, d)).get();
        check(gpu.memoryInfo()[1] == 16L << 30, "cuMemGetInfo");
    }

    // --- the stand-in's log ---

    private void expect(String kernel, long[] shape, long[] args) throws Throwable {
        List<long[]> l = launches();
        check(l.size() == 1, "one launch expected: " + logText());
        expectLine(kernel, l.get(0), shape, args);
    }

    /**
     * A launch line as numbers: [name index, grid x y z, block x y z, shared, 12 argument slots]. Expected
     * arguments with bit 63 set are 4-byte values (int, float): only the low 32 bits of the slot count.
     */
    private void expectLine(String kernel, long[] line, long[] shape, long[] args) {
        String text = logText();
        check(names.get((int) line[0]).equals(kernel), "expected " + kernel + " in " + text);
        check(Arrays.equals(Arrays.copyOfRange(line, 1, 8), shape), kernel + " shape "
                + Arrays.toString(Arrays.copyOfRange(line, 1, 8)) + " != " + Arrays.toString(shape));
        for (int i = 0; i < args.length; i++) {
            long want = args[i];
            long got = line[8 + i];
            boolean four = want < 0;
            if (four ? (got & INT_MASK) != (want & INT_MASK) : got != want) {
                throw new AssertionError(kernel + " argument " + i + ": " + Long.toHexString(got) + " != "
                        + Long.toHexString(want & (four ? INT_MASK : -1L)) + "\n" + text);
            }
        }
    }

    private final List<String> names = new ArrayList<>();

    private List<long[]> launches() throws Throwable {
        List<long[]> out = new ArrayList<>();
        for (String line : logText().split("\n")) {
            if (!line.startsWith("launch ")) {
                continue;
            }
            String[] f = line.split(" ");
            // launch NAME grid gx gy gz block bx by bz shared s args a0..a11
            long[] v = new long[8 + 12];
            names.add(f[1]);
            v[0] = names.size() - 1;
            v[1] = Long.parseLong(f[3]);
            v[2] = Long.parseLong(f[4]);
            v[3] = Long.parseLong(f[5]);
            v[4] = Long.parseLong(f[7]);
            v[5] = Long.parseLong(f[8]);
            v[6] = Long.parseLong(f[9]);
            v[7] = Long.parseLong(f[11]);
            for (int i = 0; i < 12; i++) {
                v[8 + i] = Long.parseUnsignedLong(f[13 + i], 16);
            }
            out.add(v);
        }
        return out;
    }

    private String logText() {
        try {
            MemorySegment s = (MemorySegment) log.invokeExact();
            return s.reinterpret(Long.MAX_VALUE).getString(0);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    private void clear() throws Throwable {
        clear.invokeExact();
    }

    private long live() throws Throwable {
        return (long) live.invokeExact();
    }

    private static long bits(float f) {
        return Float.floatToRawIntBits(f) & INT_MASK;
    }

    private static void check(boolean ok, String message) {
        if (!ok) {
            throw new AssertionError(message);
        }
    }
}
