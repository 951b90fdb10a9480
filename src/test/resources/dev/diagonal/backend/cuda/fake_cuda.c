/* A stand-in for the CUDA driver (libcuda.so.1) with the entry points the CUDA backend reaches through JCuda,
 * for FakeDriverTest: "device" memory is host memory, copies and memsets really happen, and kernel launches
 * are recorded (name, grid, block, shared bytes, the first 12 argument slots) instead of run. One device,
 * one primary context, one stream. Compiled by the test with the system C compiler. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef unsigned long long CUdeviceptr;

static char log_text[1 << 18];
static size_t log_len;
static long long live_allocations;
static int retained;
static int context_object, stream_object, module_object, event_object;

static void note(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(log_text + log_len, sizeof log_text - log_len, fmt, ap);
    va_end(ap);
    if (n > 0 && log_len + n < sizeof log_text) log_len += n;
}

const char *fake_log(void) { return log_text; }
void fake_log_clear(void) { log_len = 0; log_text[0] = 0; }
long long fake_live_allocations(void) { return live_allocations; }

int cuInit(unsigned flags) { return 0; }
int cuDeviceGetCount(int *count) { *count = 1; return 0; }
int cuDeviceGet(int *device, int ordinal) { if (ordinal != 0) return 101; *device = 0; return 0; }
int cuDeviceGetName(char *name, int len, int device) { snprintf(name, len, "Fake GPU"); return 0; }
int cuDeviceTotalMem_v2(size_t *bytes, int device) { *bytes = 16ull << 30; return 0; }
int cuDeviceGetAttribute(int *v, int attribute, int device) { *v = attribute == 16 ? 132 : attribute == 75 ? 9 : 0; return 0; }
int cuDevicePrimaryCtxRetain(void **ctx, int device) { *ctx = &context_object; retained++; return 0; }
int cuDevicePrimaryCtxRelease_v2(int device) { retained--; note("release %d\n", retained); return 0; }
int cuDevicePrimaryCtxGetState(int device, unsigned *flags, int *active) { *flags = 0; *active = retained > 0; return 0; }
int cuCtxSetCurrent(void *ctx) { return ctx == &context_object && retained > 0 ? 0 : 201; }
int cuStreamCreate(void **stream, unsigned flags) { *stream = &stream_object; note("stream flags %u\n", flags); return 0; }
int cuStreamDestroy_v2(void *stream) { note("stream destroyed\n"); return 0; }
int cuStreamSynchronize(void *stream) { return stream == &stream_object ? 0 : 400; }
int cuMemGetInfo_v2(size_t *free_bytes, size_t *total) { *free_bytes = 8ull << 30; *total = 16ull << 30; return 0; }

int cuMemAlloc_v2(CUdeviceptr *p, size_t n) {
    void *m = n > (1ull << 36) ? NULL : malloc(n);
    if (m == NULL) return 2; /* CUDA_ERROR_OUT_OF_MEMORY */
    *p = (CUdeviceptr) m;
    live_allocations++;
    return 0;
}
int cuMemFree_v2(CUdeviceptr p) { free((void *) p); live_allocations--; return 0; }
int cuMemsetD8Async(CUdeviceptr p, unsigned char v, size_t n, void *s) { memset((void *) p, v, n); return 0; }
int cuMemcpyHtoDAsync_v2(CUdeviceptr d, const void *h, size_t n, void *s) { memmove((void *) d, h, n); note("htod %zu\n", n); return 0; }
int cuMemcpyDtoHAsync_v2(void *h, CUdeviceptr d, size_t n, void *s) { memmove(h, (void *) d, n); note("dtoh %zu\n", n); return 0; }
int cuMemcpyDtoDAsync_v2(CUdeviceptr d, CUdeviceptr src, size_t n, void *s) { memmove((void *) d, (void *) src, n); note("dtod %zu\n", n); return 0; }

int cuModuleLoadData(void **module, const void *image) { *module = &module_object; note("module %.40s\n", (const char *) image); return 0; }
int cuModuleGetFunction(void **f, void *module, const char *name) { *f = strdup(name); return 0; }
int cuModuleUnload(void *module) { return 0; }
int cuFuncSetAttribute(void *f, int attribute, int value) { note("attribute %s %d %d\n", (const char *) f, attribute, value); return 0; }

int cuLaunchKernel(void *f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                   unsigned shared, void *stream, void **params, void **extra) {
    note("launch %s grid %u %u %u block %u %u %u shared %u args", (const char *) f, gx, gy, gz, bx, by, bz, shared);
    for (int i = 0; i < 12; i++) note(" %llx", *(unsigned long long *) params[i]);
    note("\n");
    return stream == &stream_object ? 0 : 400;
}

int cuEventCreate(void **e, unsigned flags) { *e = &event_object; return 0; }
int cuEventRecord(void *e, void *s) { return 0; }
int cuEventSynchronize(void *e) { return 0; }
int cuEventDestroy_v2(void *e) { return 0; }
int cuEventElapsedTime(float *ms, void *a, void *b) { *ms = 0.25f; return 0; }
