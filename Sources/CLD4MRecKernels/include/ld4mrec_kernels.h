/* The few routines of libld4mrec written in C: what the machine offers (cores, CPU
 * features) and the reduced-precision kernels, with a plain fallback where the CPU lacks
 * the instructions. Internal to the library: not part of Include/ld4mrec.h. */
#ifndef LD4MREC_KERNELS_H
#define LD4MREC_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* Hidden: these never leave libld4mrec.so, which exports exactly the ld4mrec_* functions
 * of Include/ld4mrec.h (its version script). The prefix is ld4mrk_ so that the ifunc
 * resolvers target_clones adds (NAME.resolver, not hidden) stay local too. */
#define LD4MREC_INTERNAL __attribute__((visibility("hidden")))

/* Cores this process may run on (its CPU affinity), at least 1. */
LD4MREC_INTERNAL int ld4mrk_available_cores(void);

/* Before the first BLAS call: OpenBLAS on its best kernels for this CPU, single-threaded
 * (system.c says why). Call once. */
LD4MREC_INTERNAL void ld4mrk_prepare_openblas(void);
/* Memory on a 64-byte boundary; with `huge`, from 2 MB up on a 2 MB one and in transparent
 * huge pages where Linux grants them (system.c says why). NULL when out of memory. Free
 * with ld4mrk_free. */
LD4MREC_INTERNAL void *ld4mrk_allocate(size_t bytes, int huge);
LD4MREC_INTERNAL void ld4mrk_free(void *p);
/* Whether the CPU has AVX2 and FMA. */
LD4MREC_INTERNAL int ld4mrk_cpu_supports_avx2(void);
/* The kernels OpenBLAS runs (its core name). */
LD4MREC_INTERNAL const char *ld4mrk_openblas_core(void);

/* Activations, in place over n floats. In place by signature, not by passing x twice:
 * a loop over two pointers that may alias is vectorised behind a runtime overlap check,
 * and x == y fails it into the scalar loop (8x slower). */
LD4MREC_INTERNAL void ld4mrk_tanh(float *x, size_t n);
LD4MREC_INTERNAL void ld4mrk_sigmoid(float *x, size_t n);
LD4MREC_INTERNAL void ld4mrk_exp(float *x, size_t n);

/* y += b; y *= b; x = leaky_relu(x); out = a (1 - g) + c g; x = scale x + shift (n floats). */
LD4MREC_INTERNAL void ld4mrk_add(const float *b, float *y, size_t n);
LD4MREC_INTERNAL void ld4mrk_mul(const float *b, float *y, size_t n);
/* y += alpha_i table row items[i] for i < count, in order (rows of cols floats, the next
 * ones prefetched), alpha_i = weights[items[i]] * scale (weights NULL: 1): the condition
 * signals' sums over a history, rows of 100 to a few hundred floats, where a call of
 * cblas_saxpy per row costs as much as the sum. */
LD4MREC_INTERNAL void ld4mrk_gather_axpy(const float *table, size_t cols, const int32_t *items, size_t count,
                                         const float *weights, float scale, float *y);
/* y[columns[e]] += values[e] for the e < count whose column is in [begin, end); columns
 * ascending and unique (a row of the sparse item-item prior). */
LD4MREC_INTERNAL void ld4mrk_add_sparse_row(const int32_t *columns, const float *values, size_t count, int32_t begin,
                                            int32_t end, float *y);
LD4MREC_INTERNAL void ld4mrk_leaky_relu(float *x, size_t n, float slope);
LD4MREC_INTERNAL void ld4mrk_gate_mix(const float *a, const float *c, const float *g, float *out, size_t n);
LD4MREC_INTERNAL void ld4mrk_film(const float *scale, const float *shift, float *x, size_t n);

/* Training's forward through one CG/PG block for one user (activations.c gives the steps). */
LD4MREC_INTERNAL void ld4mrk_block_forward(const float *a, const float *c, const float *g, size_t modalities,
                                           const float *const *scale, const float *const *shift,
                                           float *const *film_in, float *const *film_out, size_t offset, float *out,
                                           float *next, int last, float slope, size_t n);
/* Training's backward steps (n floats each): dx *= (pre < 0 ? slope : 1); of x' = scale x
 * + shift, dscale = dh x and dx = dh scale; of h = a (1 - g) + c g with a = tanh,
 * c = tanh, g = sigmoid (their outputs given), the gradients at their inputs. */
LD4MREC_INTERNAL void ld4mrk_leaky_relu_backward(float *dx, const float *pre, size_t n, float slope);
LD4MREC_INTERNAL void ld4mrk_film_backward(const float *dh, const float *input, const float *scale, float *dscale,
                                           float *dinput, size_t n);
LD4MREC_INTERNAL void ld4mrk_gate_mix_backward(const float *a, const float *c, const float *g, const float *dh,
                                               float *da, float *dc, float *dg, size_t n);

/* The index of the first NaN or infinity among n floats, n if none. */
LD4MREC_INTERNAL size_t ld4mrk_first_nonfinite(const float *x, size_t n);

/* One Adam step over n parameters (activations.c gives the formulas). */
LD4MREC_INTERNAL void ld4mrk_adam(float *p, const float *g, float *m, float *v, size_t n,
                                  float step_size, float root_correction, float b1, float b2,
                                  float eps, float weight_decay);

/* bfloat16 (bits of the upper half of a float32). */
LD4MREC_INTERNAL void ld4mrk_to_bf16(const float *x, uint16_t *y, size_t n);
/* y += alpha * x */
LD4MREC_INTERNAL void ld4mrk_axpy_bf16(float alpha, const uint16_t *x, float *y, size_t n);
/* Whether the CPU has AVX512_BF16 (and AVX512BW). */
LD4MREC_INTERNAL int ld4mrk_has_avx512bf16(void);

/* bf16 panels (panels.c): a rows x cols float32 table rounded to bf16 in the layout of
 * AMX's TDPBF16PS, ld4mrk_panels_rows(rows) x ld4mrk_panels_cols(cols) values. */
LD4MREC_INTERNAL size_t ld4mrk_panels_rows(size_t rows);
LD4MREC_INTERNAL size_t ld4mrk_panels_cols(size_t cols);
LD4MREC_INTERNAL void ld4mrk_pack_panels(const float *w, size_t rows, size_t cols, uint16_t *panels);
/* c[i * ldc + j - row_begin] = a_i . w_j, i < m, j in [row_begin, row_end) (multiples of 32): a has bf16
 * rows lda apart, zero-padded to ld4mrk_panels_cols(cols); a and c have m rounded up to 32
 * rows. AMX tiles where allowed and the CPU and the kernel have them, else one GEMV
 * per row. runs: n_runs pairs [begin, end) of blocks of 32 columns, ascending, the only
 * columns summed (the others must hold zeros in these rows); NULL: all of them. */
LD4MREC_INTERNAL void ld4mrk_panels_gemm(const uint16_t *a, size_t lda, size_t m, const uint16_t *panels,
                                         size_t cols, size_t row_begin, size_t row_end, const size_t *runs,
                                         size_t n_runs, float *c, size_t ldc, int allow_amx);
/* y[j - row_begin] = x . w_j, j in [row_begin, row_end) (multiples of 16): VDPBF16PS where
 * allowed and the CPU has it, else widened to float32. runs as for ld4mrk_panels_gemm. */
LD4MREC_INTERNAL void ld4mrk_panels_gemv(const uint16_t *x, const uint16_t *panels, size_t cols,
                                         size_t row_begin, size_t row_end, const size_t *runs, size_t n_runs,
                                         float *y, int allow_dpbf16);
/* A screened top-k (screening.c): the allowed items (those not in skip, ascending) whose
 * upper bound dots + prior + margin norms reaches the k-th best lower bound dots + prior -
 * margin norms, written to candidates (capacity n); returns their count. heap: k floats
 * of workspace. k must not exceed the allowed items. */
LD4MREC_INTERNAL size_t ld4mrk_screen(const float *dots, const float *prior, const float *norms, float margin,
                                      size_t n, size_t k, const int32_t *skip, size_t n_skip, float *heap,
                                      int32_t *candidates);
/* out[i] = table row rows[i] . x (rows of cols floats). */
LD4MREC_INTERNAL void ld4mrk_dot_rows(const float *table, size_t cols, const int32_t *rows, size_t count,
                                      const float *x, float *out);
/* out[i] = x . w_rows[i] (x: bf16, zero-padded to ld4mrk_panels_cols(cols)). */
LD4MREC_INTERNAL void ld4mrk_panels_dot_rows(const uint16_t *panels, size_t cols, const int32_t *rows, size_t count,
                                             const uint16_t *x, float *out);
/* Whether this process may use AMX-BF16 (CPU support and the kernel's permission). */
LD4MREC_INTERNAL int ld4mrk_has_amx_bf16(void);

/* Training's random numbers, each fill a pure function of its seed. */
/* out[i] = scale * N(0, 1), i < n. */
LD4MREC_INTERNAL void ld4mrk_fill_gaussian(uint64_t seed, float *out, size_t n, float scale);
/* Inverted dropout: each x[i] becomes 0 with probability p, else x[i] / (1 - p). */
LD4MREC_INTERNAL void ld4mrk_dropout(uint64_t seed, float *x, size_t n, float p);

/* A hint to the core that the caller is spinning (x86 PAUSE). */
static inline void ld4mrk_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

#endif
