/* Elementwise activations over float arrays. Written as plain loops that the compiler
 * vectorises; target_clones builds an AVX-512, an AVX2 and a baseline version of each
 * and the loader picks the best one for the CPU (an ifunc). The approximations are
 * those of Eigen (tanh: a 13/6 rational function, a few ulp; exp: Cephes' polynomial
 * with range reduction, about 1 ulp), far inside the model's float32 tolerances. */
#include "ld4mrec_kernels.h"

#include <math.h>
#include <string.h>

#define CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))

static inline float tanh_approx(float x) {
    const float limit = 7.90531110763549805f;  /* tanh(x) rounds to +-1 beyond this */
    const float c = x < -limit ? -limit : (x > limit ? limit : x);
    const float c2 = c * c;
    float p = c2 * -2.76076847742355e-16f + 2.00018790482477e-13f;
    p = c2 * p + -8.60467152213735e-11f;
    p = c2 * p + 5.12229709037114e-08f;
    p = c2 * p + 1.48572235717979e-05f;
    p = c2 * p + 6.37261928875436e-04f;
    p = c2 * p + 4.89352455891786e-03f;
    p = c * p;
    float q = c2 * 1.19825839466702e-06f + 1.18534705686654e-04f;
    q = c2 * q + 2.26843463243900e-03f;
    q = c2 * q + 4.89352518554385e-03f;
    /* Near 0 the rational form loses relative accuracy; tanh(x) = x there. */
    return fabsf(x) < 0.0004f ? x : p / q;
}

static inline float exp_approx(float x) {
    const float c = x < -87.3f ? -87.3f : (x > 88.7f ? 88.7f : x);
    /* n = c / ln 2 rounded to nearest by adding and removing 1.5 * 2^23: unlike floorf it
     * vectorises without -ffast-math. */
    const float n = (c * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    const float r = c - n * 0.693359375f - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    union { int32_t i; float f; } scale = {((int32_t)n + 127) << 23};
    return p * scale.f;
}

CLONES void ld4mrk_tanh(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = tanh_approx(x[i]);
}

CLONES void ld4mrk_sigmoid(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = 1.0f / (1.0f + exp_approx(-x[i]));
}

CLONES void ld4mrk_exp(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = exp_approx(x[i]);
}

/* The C-Net's elementwise steps, vectorised here rather than in Swift, whose loops are
 * built for the x86-64 baseline. */
CLONES void ld4mrk_add(const float *b, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] += b[i];
}

CLONES void ld4mrk_mul(const float *restrict b, float *restrict y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] *= b[i];
}

/* Each line of the cols floats at row, fetched into cache ahead of its use. */
static inline void prefetch_row(const float *row, size_t cols) {
    for (size_t byte = 0; byte < cols * sizeof(float); byte += 64) __builtin_prefetch((const char *)row + byte);
}

/* A history's rows (of the condition signals' tables, 2.7 to 3.4 MB each) are scattered
 * beyond L2, so each read would start with a miss; the rows a few items ahead are fetched
 * while the current one is summed. */
enum { ROWS_AHEAD = 4 };

CLONES void ld4mrk_gather_axpy(const float *table, size_t cols, const int32_t *items, size_t count,
                               const float *weights, float scale, float *restrict y) {
    for (size_t i = 0; i < count; i++) {
        if (i + ROWS_AHEAD < count) prefetch_row(table + (size_t)items[i + ROWS_AHEAD] * cols, cols);
        const float alpha = weights ? weights[items[i]] * scale : 1.0f;
        const float *restrict x = table + (size_t)items[i] * cols;
        for (size_t c = 0; c < cols; c++) y[c] += alpha * x[c];
    }
}

/* The entries of a sparse row whose columns lie in [begin, end): a binary search to the
 * first, then a scatter. Columns ascend and are unique, so no two updates meet. */
CLONES void ld4mrk_add_sparse_row(const int32_t *restrict columns, const float *restrict values, size_t count,
                                  int32_t begin, int32_t end, float *restrict y) {
    size_t low = 0, high = count;
    while (low < high) {
        const size_t mid = (low + high) / 2;
        if (columns[mid] < begin) low = mid + 1; else high = mid;
    }
    for (size_t e = low; e < count && columns[e] < end; e++) y[columns[e]] += values[e];
}

CLONES void ld4mrk_leaky_relu(float *x, size_t n, float slope) {
    for (size_t i = 0; i < n; i++) x[i] = x[i] < 0 ? x[i] * slope : x[i];
}

CLONES void ld4mrk_gate_mix(const float *a, const float *c, const float *g, float *out, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = a[i] * (1 - g[i]) + c[i] * g[i];
}

CLONES void ld4mrk_film(const float *scale, const float *shift, float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = scale[i] * x[i] + shift[i];
}

/* The training forward of one CG/PG block for one user's n hidden units:
 * h = a (1 - g) + c g; per modality m, h = leaky(h) (m > 0), film_in[m] = h,
 * h = scale[m] h + shift[m], film_out[m] = h; out = h and next = h (last) or leaky(h).
 * The per-modality tables are given as bases plus `offset`. Pass by pass over the row,
 * each vectorised; contraction off, as the Swift loop it replaces rounded. */
CLONES void ld4mrk_block_forward(const float *restrict a, const float *restrict c, const float *restrict g,
                                 size_t modalities, const float *const *scale, const float *const *shift,
                                 float *const *film_in, float *const *film_out, size_t offset,
                                 float *restrict out, float *restrict next, int last, float slope, size_t n) {
#pragma clang fp contract(off)
    for (size_t i = 0; i < n; i++) out[i] = a[i] * (1 - g[i]) + c[i] * g[i];
    for (size_t m = 0; m < modalities; m++) {
        const float *restrict sc = scale[m] + offset, *restrict sh = shift[m] + offset;
        float *restrict in = film_in[m] + offset, *restrict fo = film_out[m] + offset;
        if (m > 0)
            for (size_t i = 0; i < n; i++) out[i] = out[i] < 0 ? out[i] * slope : out[i];
        for (size_t i = 0; i < n; i++) {
            in[i] = out[i];
            out[i] = sc[i] * out[i] + sh[i];
            fo[i] = out[i];
        }
    }
    for (size_t i = 0; i < n; i++) next[i] = last || out[i] >= 0 ? out[i] : out[i] * slope;
}

/* The training step's elementwise backward passes. Contraction is off so that every
 * product and sum rounds on its own, as in the Swift loops they replace (the same
 * weights bit for bit). */
CLONES void ld4mrk_leaky_relu_backward(float *restrict dx, const float *restrict pre, size_t n, float slope) {
    for (size_t i = 0; i < n; i++) dx[i] *= pre[i] < 0 ? slope : 1.0f;  /* x * 1 = x: no branch */
}

CLONES void ld4mrk_film_backward(const float *restrict dh, const float *restrict input, const float *restrict scale,
                                 float *restrict dscale, float *restrict dinput, size_t n) {
    for (size_t i = 0; i < n; i++) {
        dscale[i] = dh[i] * input[i];
        dinput[i] = dh[i] * scale[i];
    }
}

CLONES void ld4mrk_gate_mix_backward(const float *restrict a, const float *restrict c, const float *restrict g,
                                     const float *restrict dh, float *restrict da, float *restrict dc,
                                     float *restrict dg, size_t n) {
#pragma clang fp contract(off)
    for (size_t i = 0; i < n; i++) {
        da[i] = dh[i] * (1 - g[i]) * (1 - a[i] * a[i]);
        dc[i] = dh[i] * g[i] * (1 - c[i] * c[i]);
        dg[i] = dh[i] * (c[i] - a[i]) * g[i] * (1 - g[i]);
    }
}

/* The index of the first NaN or infinity of x, n if none: whole blocks are tested with
 * no early exit (vectorised), the first failing block element by element. Model loads
 * check every weight with it. */
CLONES size_t ld4mrk_first_nonfinite(const float *x, size_t n) {
    size_t i = 0;
    for (; i + 256 <= n; i += 256) {
        uint32_t bad = 0;
        for (size_t j = 0; j < 256; j++) {
            uint32_t bits;
            memcpy(&bits, x + i + j, sizeof bits);
            bad |= (bits & 0x7F800000u) == 0x7F800000u;
        }
        if (bad) break;
    }
    for (; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, x + i, sizeof bits);
        if ((bits & 0x7F800000u) == 0x7F800000u) return i;
    }
    return n;
}

/* One Adam step (PyTorch's conventions) over n parameters:
 *   g' = g + weight_decay p;  m = b1 m + (1 - b1) g';  v = b2 v + (1 - b2) g'^2;
 *   p -= step_size m / (sqrt(v) / root_correction + eps)
 * with step_size = lr / (1 - b1^t) and root_correction = sqrt(1 - b2^t). restrict and the
 * errno-free sqrt builtin let the loop vectorise (sqrtf and possible aliasing kept it
 * scalar, 4x slower). */
CLONES void ld4mrk_adam(float *restrict p, const float *restrict g, float *restrict m, float *restrict v, size_t n, float step_size,
                        float root_correction, float b1, float b2, float eps, float weight_decay) {
    const float inverse_root = 1.0f / root_correction;
    for (size_t i = 0; i < n; i++) {
        const float grad = g[i] + weight_decay * p[i];
        m[i] = b1 * m[i] + (1.0f - b1) * grad;
        v[i] = b2 * v[i] + (1.0f - b2) * grad * grad;
        p[i] -= step_size * m[i] / (__builtin_elementwise_sqrt(v[i]) * inverse_root + eps);
    }
}
