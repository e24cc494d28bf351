/* The per-request steps of a screened top-K (LD4MRecServing's Screening.swift): finding
 * the candidates from approximate scores and their error bounds, and scoring them in
 * float32. */
#include "ld4mrec_kernels.h"

#include <stdint.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* A min-heap of the k best lower bounds: heap[0] is the k-th best. */
static void sift_down(float *heap, size_t k) {
    size_t parent = 0;
    for (;;) {
        size_t least = parent, left = 2 * parent + 1, right = left + 1;
        if (left < k && heap[left] < heap[least]) least = left;
        if (right < k && heap[right] < heap[least]) least = right;
        if (least == parent) return;
        const float t = heap[parent];
        heap[parent] = heap[least];
        heap[least] = t;
        parent = least;
    }
}

static void sift_up(float *heap, size_t child) {
    while (child > 0) {
        const size_t parent = (child - 1) / 2;
        if (heap[parent] <= heap[child]) return;
        const float t = heap[parent];
        heap[parent] = heap[child];
        heap[child] = t;
        child = parent;
    }
}

/* Whether item i is in skip (ascending); *next walks forward with ascending queries. */
static inline int skipped(int32_t i, const int32_t *skip, size_t n_skip, size_t *next) {
    while (*next < n_skip && skip[*next] < i) (*next)++;
    return *next < n_skip && skip[*next] == i;
}

static inline float lower_bound(const float *dots, const float *prior, const float *norms, float margin, size_t i) {
    return (dots[i] + prior[i]) - margin * norms[i];
}

static inline float upper_bound(const float *dots, const float *prior, const float *norms, float margin, size_t i) {
    return (dots[i] + prior[i]) + margin * norms[i];
}

#if defined(__x86_64__)
/* The scan after the heap is full: sixteen items at a time, most below the floor. */
__attribute__((target("avx512f")))
static float raise_floor_avx512(const float *dots, const float *prior, const float *norms, float margin, size_t i,
                                size_t n, const int32_t *skip, size_t n_skip, size_t *next, float *heap, size_t k) {
    float floor = heap[0];
    const __m512 m = _mm512_set1_ps(margin);
    for (; i + 16 <= n; i += 16) {
        const __m512 sum = _mm512_add_ps(_mm512_loadu_ps(dots + i), _mm512_loadu_ps(prior + i));
        const __m512 lower = _mm512_sub_ps(sum, _mm512_mul_ps(m, _mm512_loadu_ps(norms + i)));
        __mmask16 above = _mm512_cmp_ps_mask(lower, _mm512_set1_ps(floor), _CMP_GT_OQ);
        while (above) {
            const size_t j = i + (size_t)__builtin_ctz(above);
            above &= above - 1;
            const float value = lower_bound(dots, prior, norms, margin, j);
            if (value > floor && !skipped((int32_t)j, skip, n_skip, next)) {
                heap[0] = value;
                sift_down(heap, k);
                floor = heap[0];
            }
        }
    }
    for (; i < n; i++) {
        const float value = lower_bound(dots, prior, norms, margin, i);
        if (value > floor && !skipped((int32_t)i, skip, n_skip, next)) {
            heap[0] = value;
            sift_down(heap, k);
            floor = heap[0];
        }
    }
    return floor;
}

/* The candidate pass, sixteen items at a time (a few per thousand pass): writes those of
 * [0, n rounded down to 16) to candidates, returns their count and leaves *i after them. */
__attribute__((target("avx512f")))
static size_t candidates_avx512(const float *dots, const float *prior, const float *norms, float margin, float floor,
                                size_t n, const int32_t *skip, size_t n_skip, size_t *next, size_t *i,
                                int32_t *candidates) {
    size_t count = 0, j = 0;
    const __m512 m = _mm512_set1_ps(margin), f = _mm512_set1_ps(floor);
    for (; j + 16 <= n; j += 16) {
        const __m512 sum = _mm512_add_ps(_mm512_loadu_ps(dots + j), _mm512_loadu_ps(prior + j));
        const __m512 upper = _mm512_add_ps(sum, _mm512_mul_ps(m, _mm512_loadu_ps(norms + j)));
        __mmask16 reach = _mm512_cmp_ps_mask(upper, f, _CMP_GE_OQ);
        while (reach) {
            const size_t item = j + (size_t)__builtin_ctz(reach);
            reach &= reach - 1;
            if (!skipped((int32_t)item, skip, n_skip, next)) candidates[count++] = (int32_t)item;
        }
    }
    *i = j;
    return count;
}
#endif

size_t ld4mrk_screen(const float *dots, const float *prior, const float *norms, float margin, size_t n, size_t k,
                     const int32_t *skip, size_t n_skip, float *heap, int32_t *candidates) {
    if (k == 0) return 0;
    /* The k-th best lower bound among the allowed items: no item of the list scores below it. */
    size_t i = 0, filled = 0, next = 0;
    for (; i < n && filled < k; i++) {
        if (skipped((int32_t)i, skip, n_skip, &next)) continue;
        heap[filled] = lower_bound(dots, prior, norms, margin, i);
        sift_up(heap, filled++);
    }
    if (filled < k) return 0;  /* fewer allowed items than k: the caller asks for at most that many */
    float floor;
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx512f")) {
        floor = raise_floor_avx512(dots, prior, norms, margin, i, n, skip, n_skip, &next, heap, k);
    } else
#endif
    {
        floor = heap[0];
        for (; i < n; i++) {
            const float value = lower_bound(dots, prior, norms, margin, i);
            if (value > floor && !skipped((int32_t)i, skip, n_skip, &next)) {
                heap[0] = value;
                sift_down(heap, k);
                floor = heap[0];
            }
        }
    }
    /* The candidates: every allowed item whose upper bound reaches the floor. */
    size_t count = 0;
    next = 0;
    i = 0;
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx512f")) count = candidates_avx512(dots, prior, norms, margin, floor, n, skip, n_skip, &next, &i, candidates);
#endif
    for (; i < n; i++) {
        if (upper_bound(dots, prior, norms, margin, i) >= floor && !skipped((int32_t)i, skip, n_skip, &next))
            candidates[count++] = (int32_t)i;
    }
    return count;
}

/* Four rows at a time: four independent streams from memory, and each load of x shared. */
#define CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))

CLONES void ld4mrk_dot_rows(const float *table, size_t cols, const int32_t *rows, size_t count, const float *x,
                            float *out) {
#pragma clang fp reassociate(on)
    size_t r = 0;
    for (; r + 4 <= count; r += 4) {
        const float *w0 = table + (size_t)rows[r] * cols, *w1 = table + (size_t)rows[r + 1] * cols,
                    *w2 = table + (size_t)rows[r + 2] * cols, *w3 = table + (size_t)rows[r + 3] * cols;
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (size_t c = 0; c < cols; c++) {
            s0 += w0[c] * x[c];
            s1 += w1[c] * x[c];
            s2 += w2[c] * x[c];
            s3 += w3[c] * x[c];
        }
        out[r] = s0;
        out[r + 1] = s1;
        out[r + 2] = s2;
        out[r + 3] = s3;
    }
    for (; r < count; r++) {
        const float *w = table + (size_t)rows[r] * cols;
        float s = 0;
        for (size_t c = 0; c < cols; c++) s += w[c] * x[c];
        out[r] = s;
    }
}
