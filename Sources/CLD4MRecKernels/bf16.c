/* bfloat16 values (the top 16 bits of a float32, rounded to nearest even): the rounding,
 * the gathers of bf16 rows (W_in, the prior), and what the CPU offers. The products of
 * the dense layers are in panels.c. */
#include "ld4mrec_kernels.h"

#define CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))

static inline float widen(uint16_t h) {
    union { uint32_t u; float f; } v = {(uint32_t)h << 16};
    return v.f;
}

CLONES void ld4mrk_to_bf16(const float *x, uint16_t *y, size_t n) {
    for (size_t i = 0; i < n; i++) {
        union { float f; uint32_t u; } v = {x[i]};
        y[i] = (uint16_t)((v.u + 0x7FFFu + ((v.u >> 16) & 1u)) >> 16);  /* finite inputs */
    }
}

CLONES void ld4mrk_axpy_bf16(float alpha, const uint16_t *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] += alpha * widen(x[i]);
}

int ld4mrk_has_avx512bf16(void) {
#if defined(__x86_64__)
    static int cached = -1;  /* written once with the same value by any thread */
    int value = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (value < 0) {
        value = __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw");
        __atomic_store_n(&cached, value, __ATOMIC_RELAXED);
    }
    return value;
#else
    return 0;
#endif
}
