/* bf16 panels: a float32 table rounded to bfloat16 and laid out as AMX's TDPBF16PS reads
 * its second operand, so that a batch's scores against the whole table run on the AMX
 * tiles (Sapphire Rapids and later) and one vector's on VDPBF16PS (AVX512_BF16).
 *
 * Layout: the table's rows in groups of 16 (a panel row), its columns in groups of 32;
 * each 16 x 32 block is 1 KB, 16 lines of 64 bytes, line p holding for each of the 16
 * rows the pair of columns (2p, 2p + 1). Blocks of a panel row are consecutive. Rows are
 * padded to a multiple of 32 and columns to a multiple of 32, with zeros.
 *
 * The products of bf16 values are exact in float32 and are summed in float32, so every
 * path computes the same products; they differ only in the order of the sums. */
#include "ld4mrec_kernels.h"

#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

static size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

size_t ld4mrk_panels_rows(size_t rows) { return round_up(rows, 32); }
size_t ld4mrk_panels_cols(size_t cols) { return round_up(cols, 32); }

static inline uint16_t to_bf16(float f) {
    union { float f; uint32_t u; } v = {f};
    return (uint16_t)((v.u + 0x7FFFu + ((v.u >> 16) & 1u)) >> 16);  /* finite inputs */
}

void ld4mrk_pack_panels(const float *w, size_t rows, size_t cols, uint16_t *panels) {
    const size_t padded_cols = ld4mrk_panels_cols(cols), blocks = padded_cols / 32;
    memset(panels, 0, ld4mrk_panels_rows(rows) * padded_cols * sizeof(uint16_t));
    for (size_t r = 0; r < rows; r++) {
        uint16_t *panel = panels + (r / 16) * blocks * 512 + (r % 16) * 2;
        for (size_t c = 0; c < cols; c++)
            panel[(c / 32) * 512 + ((c % 32) / 2) * 32 + (c % 2)] = to_bf16(w[r * cols + c]);
    }
}

#if defined(__x86_64__)
/* The tile registers' shapes: C tiles 0-3 (16 x 16 float), A tiles 4-5 (16 rows x 32
 * bf16), B tiles 6-7 (16 lines x 32 bf16): all 16 rows of 64 bytes. */
struct tile_config {
    uint8_t palette, start_row, reserved[14];
    uint16_t bytes_per_row[16];
    uint8_t rows[16];
};

/* c[i * ldc + j - row_begin] = a_i . w_j for the rows i < m of a and the table rows j in
 * [row_begin, row_end) (multiples of 32). a holds bf16 rows lda apart whose columns are
 * padded with zeros to the panels' width; a and c must have round_up(m, 32) rows. Each
 * 32 x 32 block of c is four tiles accumulated over the columns, two A tiles times two B
 * tiles per step. */
__attribute__((target("amx-tile,amx-bf16")))
static void gemm_amx(const uint16_t *a, size_t lda, size_t m, const uint16_t *panels, size_t cols,
                     size_t row_begin, size_t row_end, const size_t *runs, size_t n_runs, float *c, size_t ldc) {
    struct tile_config config;
    memset(&config, 0, sizeof config);
    config.palette = 1;
    for (int t = 0; t < 8; t++) {
        config.bytes_per_row[t] = 64;
        config.rows[t] = 16;
    }
    _tile_loadconfig(&config);
    const size_t blocks = ld4mrk_panels_cols(cols) / 32, a_stride = lda * sizeof(uint16_t),
                 c_stride = ldc * sizeof(float);
    /* Blocks of 256 table rows (512 KB of panels) stay in L2 while every row of a passes
     * over them; within a step, loads alternate with products so that the tile unit is
     * not left waiting on four loads in a row (together 25% faster than one table row
     * pair at a time over all of a, with the four loads first). */
    for (size_t j0 = row_begin; j0 < row_end; j0 += 256) {
        const size_t j1 = j0 + 256 < row_end ? j0 + 256 : row_end;
        for (size_t i = 0; i < m; i += 32) {
            const uint16_t *a0 = a + i * lda, *a1 = a0 + 16 * lda;
            for (size_t j = j0; j < j1; j += 32) {
                const uint16_t *b0 = panels + (j / 16) * blocks * 512, *b1 = b0 + blocks * 512;
                _tile_zero(0);
                _tile_zero(1);
                _tile_zero(2);
                _tile_zero(3);
                for (size_t r = 0; r < n_runs; r++)
                    for (size_t k = runs[2 * r]; k < runs[2 * r + 1]; k++) {
                        _tile_loadd(4, a0 + 32 * k, a_stride);
                        _tile_loadd(6, b0 + 512 * k, 64);
                        _tile_dpbf16ps(0, 4, 6);
                        _tile_loadd(7, b1 + 512 * k, 64);
                        _tile_dpbf16ps(1, 4, 7);
                        _tile_loadd(5, a1 + 32 * k, a_stride);
                        _tile_dpbf16ps(2, 5, 6);
                        _tile_dpbf16ps(3, 5, 7);
                    }
                float *c0 = c + i * ldc + (j - row_begin), *c1 = c0 + 16 * ldc;
                _tile_stored(0, c0, c_stride);
                _tile_stored(1, c0 + 16, c_stride);
                _tile_stored(2, c1, c_stride);
                _tile_stored(3, c1 + 16, c_stride);
            }
        }
    }
    _tile_release();
}

/* y[j - row_begin] = x . w_j for j in [row_begin, row_end) (multiples of 16): a panel line
 * times the broadcast pair (x[2p], x[2p + 1]) is one VDPBF16PS; four panel rows share
 * each broadcast. */
__attribute__((target("avx512f,avx512bw,avx512bf16")))
static void gemv_dpbf16(const uint16_t *x, const uint16_t *panels, size_t cols, size_t row_begin,
                        size_t row_end, const size_t *runs, size_t n_runs, float *y) {
    const size_t blocks = ld4mrk_panels_cols(cols) / 32, panel = blocks * 512;
    const uint32_t *pairs = (const uint32_t *)x;
    size_t j = row_begin;
    for (; j + 64 <= row_end; j += 64) {
        const uint16_t *w = panels + (j / 16) * panel;
        __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
        for (size_t r = 0; r < n_runs; r++)
            for (size_t p = runs[2 * r] * 16; p < runs[2 * r + 1] * 16; p++) {
                const __m512bh pair = (__m512bh)_mm512_set1_epi32((int)pairs[p]);
                s0 = _mm512_dpbf16_ps(s0, (__m512bh)_mm512_loadu_si512(w + 32 * p), pair);
                s1 = _mm512_dpbf16_ps(s1, (__m512bh)_mm512_loadu_si512(w + panel + 32 * p), pair);
                s2 = _mm512_dpbf16_ps(s2, (__m512bh)_mm512_loadu_si512(w + 2 * panel + 32 * p), pair);
                s3 = _mm512_dpbf16_ps(s3, (__m512bh)_mm512_loadu_si512(w + 3 * panel + 32 * p), pair);
            }
        float *out = y + (j - row_begin);
        _mm512_storeu_ps(out, s0);
        _mm512_storeu_ps(out + 16, s1);
        _mm512_storeu_ps(out + 32, s2);
        _mm512_storeu_ps(out + 48, s3);
    }
    for (; j < row_end; j += 16) {
        const uint16_t *w = panels + (j / 16) * panel;
        __m512 s = _mm512_setzero_ps();
        for (size_t r = 0; r < n_runs; r++)
            for (size_t p = runs[2 * r] * 16; p < runs[2 * r + 1] * 16; p++)
                s = _mm512_dpbf16_ps(s, (__m512bh)_mm512_loadu_si512(w + 32 * p),
                                     (__m512bh)_mm512_set1_epi32((int)pairs[p]));
        _mm512_storeu_ps(y + (j - row_begin), s);
    }
}
#endif

int ld4mrk_has_amx_bf16(void) {
#if defined(__x86_64__) && defined(__linux__)
    static int cached = -1;  /* written once with the same value by any thread */
    int value = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (value < 0) {
        /* Linux hands out the AMX tile state only to processes that ask for it
         * (ARCH_REQ_XCOMP_PERM for XFEATURE_XTILEDATA); the grant is process-wide. */
        value = __builtin_cpu_supports("amx-tile") && __builtin_cpu_supports("amx-bf16") &&
                syscall(SYS_arch_prctl, 0x1023, 18) == 0;
        __atomic_store_n(&cached, value, __ATOMIC_RELAXED);
    }
    return value;
#else
    return 0;
#endif
}

void ld4mrk_panels_gemm(const uint16_t *a, size_t lda, size_t m, const uint16_t *panels, size_t cols,
                        size_t row_begin, size_t row_end, const size_t *runs, size_t n_runs, float *c, size_t ldc,
                        int allow_amx) {
    const size_t whole[2] = {0, ld4mrk_panels_cols(cols) / 32};  /* runs == NULL: every block */
    if (!runs) {
        runs = whole;
        n_runs = 1;
    }
#if defined(__x86_64__)
    if (allow_amx && ld4mrk_has_amx_bf16()) {
        gemm_amx(a, lda, m, panels, cols, row_begin, row_end, runs, n_runs, c, ldc);
        return;
    }
#endif
    (void)allow_amx;
    for (size_t i = 0; i < m; i++)
        ld4mrk_panels_gemv(a + i * lda, panels, cols, row_begin, row_end, runs, n_runs, c + i * ldc, 1);
}

/* The plain path: widen to float32 and sum in the same line order. */
static void gemv_widening(const uint16_t *x, const uint16_t *panels, size_t cols, size_t row_begin,
                          size_t row_end, const size_t *runs, size_t n_runs, float *y) {
    const size_t blocks = ld4mrk_panels_cols(cols) / 32, panel = blocks * 512;
    for (size_t j = row_begin; j < row_end; j += 16) {
        const uint16_t *w = panels + (j / 16) * panel;
        float s[16] = {0};
        for (size_t run = 0; run < n_runs; run++)
            for (size_t p = runs[2 * run] * 16; p < runs[2 * run + 1] * 16; p++) {
                union { uint32_t u; float f; } x0 = {(uint32_t)x[2 * p] << 16}, x1 = {(uint32_t)x[2 * p + 1] << 16};
                for (int r = 0; r < 16; r++) {
                    union { uint32_t u; float f; } w0 = {(uint32_t)w[32 * p + 2 * r] << 16},
                                                   w1 = {(uint32_t)w[32 * p + 2 * r + 1] << 16};
                    s[r] += w0.f * x0.f + w1.f * x1.f;
                }
            }
        memcpy(y + (j - row_begin), s, sizeof s);
    }
}

void ld4mrk_panels_gemv(const uint16_t *x, const uint16_t *panels, size_t cols, size_t row_begin,
                        size_t row_end, const size_t *runs, size_t n_runs, float *y, int allow_dpbf16) {
    const size_t whole[2] = {0, ld4mrk_panels_cols(cols) / 32};  /* runs == NULL: every block */
    if (!runs) {
        runs = whole;
        n_runs = 1;
    }
#if defined(__x86_64__)
    if (allow_dpbf16 && ld4mrk_has_avx512bf16()) {
        gemv_dpbf16(x, panels, cols, row_begin, row_end, runs, n_runs, y);
        return;
    }
#endif
    (void)allow_dpbf16;
    gemv_widening(x, panels, cols, row_begin, row_end, runs, n_runs, y);
}

/* out[i] = x . w_rows[i]: one row read out of its panel (two columns per 64-byte line),
 * for the few rows a candidate list scores. */
void ld4mrk_panels_dot_rows(const uint16_t *panels, size_t cols, const int32_t *rows, size_t count,
                            const uint16_t *x, float *out) {
    const size_t blocks = ld4mrk_panels_cols(cols) / 32;
    for (size_t r = 0; r < count; r++) {
        const uint16_t *w = panels + ((size_t)rows[r] / 16) * blocks * 512 + ((size_t)rows[r] % 16) * 2;
        float sum = 0;
        for (size_t p = 0; p < blocks * 16; p++) {
            union { uint32_t u; float f; } w0 = {(uint32_t)w[32 * p] << 16}, w1 = {(uint32_t)w[32 * p + 1] << 16},
                                           x0 = {(uint32_t)x[2 * p] << 16}, x1 = {(uint32_t)x[2 * p + 1] << 16};
            sum += w0.f * x0.f + w1.f * x1.f;
        }
        out[r] = sum;
    }
}
