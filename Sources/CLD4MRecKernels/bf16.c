/* Reduced-precision serving: weights stored as bfloat16 (the top 16 bits of a float32,
 * rounded to nearest even). A product of a bf16 weight and an activation rounded to
 * bf16 is exact in float32, so every path below computes the same products and differs
 * from the others only in the order of the float32 sums:
 *   - CPUs with AVX512_BF16: VDPBF16PS, 32 products per instruction;
 *   - others: the bf16 values widened to float32 and multiplied (a vectorised loop). */
#include "ld4mrec_kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

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

CLONES void ld4mrk_from_bf16(const uint16_t *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = widen(x[i]);
}

CLONES void ld4mrk_axpy_bf16(float alpha, const uint16_t *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] += alpha * widen(x[i]);
}

CLONES static void gemv_bf16_widening(const uint16_t *w, size_t ld, size_t rows, size_t cols,
                                      const uint16_t *x, float *y) {
#pragma clang fp reassociate(on)
    for (size_t r = 0; r < rows; r++) {
        const uint16_t *row = w + r * ld;
        float sum = 0.0f;
        for (size_t c = 0; c < cols; c++) sum += widen(row[c]) * widen(x[c]);
        y[r] = sum;
    }
}

#if defined(__x86_64__)
__attribute__((target("avx512f,avx512bw,avx512bf16")))
static float dot_tail(const uint16_t *row, const uint16_t *x, size_t c, size_t cols, __m512 acc) {
    if (c < cols) {
        const __mmask32 mask = (__mmask32)((1ull << (cols - c)) - 1);
        const __m512i a = _mm512_maskz_loadu_epi16(mask, row + c);
        const __m512i b = _mm512_maskz_loadu_epi16(mask, x + c);
        acc = _mm512_dpbf16_ps(acc, (__m512bh)a, (__m512bh)b);
    }
    return _mm512_reduce_add_ps(acc);
}

/* Four rows at a time share each load of x. */
__attribute__((target("avx512f,avx512bw,avx512bf16")))
static void gemv_bf16_dpbf16(const uint16_t *w, size_t ld, size_t rows, size_t cols,
                             const uint16_t *x, float *y) {
    size_t r = 0;
    for (; r + 4 <= rows; r += 4) {
        const uint16_t *w0 = w + r * ld, *w1 = w0 + ld, *w2 = w1 + ld, *w3 = w2 + ld;
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        size_t c = 0;
        for (; c + 32 <= cols; c += 32) {
            const __m512bh xv = (__m512bh)_mm512_loadu_si512(x + c);
            a0 = _mm512_dpbf16_ps(a0, (__m512bh)_mm512_loadu_si512(w0 + c), xv);
            a1 = _mm512_dpbf16_ps(a1, (__m512bh)_mm512_loadu_si512(w1 + c), xv);
            a2 = _mm512_dpbf16_ps(a2, (__m512bh)_mm512_loadu_si512(w2 + c), xv);
            a3 = _mm512_dpbf16_ps(a3, (__m512bh)_mm512_loadu_si512(w3 + c), xv);
        }
        y[r] = dot_tail(w0, x, c, cols, a0);
        y[r + 1] = dot_tail(w1, x, c, cols, a1);
        y[r + 2] = dot_tail(w2, x, c, cols, a2);
        y[r + 3] = dot_tail(w3, x, c, cols, a3);
    }
    for (; r < rows; r++) {
        const uint16_t *row = w + r * ld;
        __m512 acc = _mm512_setzero_ps();
        size_t c = 0;
        for (; c + 32 <= cols; c += 32)
            acc = _mm512_dpbf16_ps(acc, (__m512bh)_mm512_loadu_si512(row + c),
                                   (__m512bh)_mm512_loadu_si512(x + c));
        y[r] = dot_tail(row, x, c, cols, acc);
    }
}
#endif

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

void ld4mrk_gemv_bf16(const uint16_t *w, size_t ld, size_t rows, size_t cols, const uint16_t *x,
                       float *y, int allow_dpbf16) {
#if defined(__x86_64__)
    if (allow_dpbf16 && ld4mrk_has_avx512bf16()) {
        gemv_bf16_dpbf16(w, ld, rows, cols, x, y);
        return;
    }
#endif
    (void)allow_dpbf16;
    gemv_bf16_widening(w, ld, rows, cols, x, y);
}
