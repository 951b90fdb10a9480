/* A stand-in for libcublas with the five entry points the CUDA backend binds, for CublasBindingTest: it
 * records what it was called with, so the Java side's argument order and C types are checked on a machine
 * without CUDA. Compiled by the test with the system C compiler. */
#include <string.h>

static int calls[32];
static float scalars[2];
static long long pointers[8];
static char handle_object;

int cublasCreate_v2(void **handle) { *handle = &handle_object; calls[0]++; return 0; }
int cublasDestroy_v2(void *handle) { calls[1] += handle == &handle_object; return 0; }
int cublasSetStream_v2(void *handle, void *stream) { pointers[0] = (long long)stream; calls[2] += handle == &handle_object; return 0; }
int cublasSetMathMode(void *handle, int mode) { calls[3] = mode + 100; return 0; }

int cublasGemmEx(void *handle, int transa, int transb, int m, int n, int k, const void *alpha, const void *A,
                 int Atype, int lda, const void *B, int Btype, int ldb, const void *beta, void *C, int Ctype, int ldc,
                 int computeType, int algo) {
    int v[] = {handle == &handle_object, transa, transb, m, n, k, Atype, lda, Btype, ldb, Ctype, ldc, computeType, algo};
    memcpy(&calls[8], v, sizeof v);
    scalars[0] = *(const float *)alpha;
    scalars[1] = *(const float *)beta;
    pointers[1] = (long long)A;
    pointers[2] = (long long)B;
    pointers[3] = (long long)C;
    return m == 13 ? 7 : 0; /* m = 13 asks for CUBLAS_STATUS_INVALID_VALUE */
}

void fake_record(int *ints, float *floats, long long *ptrs) {
    memcpy(ints, calls, sizeof calls);
    memcpy(floats, scalars, sizeof scalars);
    memcpy(ptrs, pointers, sizeof pointers);
}
