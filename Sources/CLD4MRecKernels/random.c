/* Random numbers for training: xoshiro256++ (Blackman & Vigna), seeded by SplitMix64, and
 * Gaussians by Box-Muller on float32 with polynomial log, sin and cos (errors below 1e-6,
 * far under the noise they make). A fill is a pure function of its seed, so that rows
 * of a minibatch can be drawn on any thread and give the same numbers. */
#include "ld4mrec_kernels.h"

#include <math.h>

#define CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))

typedef struct { uint64_t s[4]; } xoshiro;

static inline uint64_t splitmix(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline void seed(xoshiro *r, uint64_t value) {
    for (int i = 0; i < 4; i++) r->s[i] = splitmix(&value);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t next(xoshiro *r) {
    uint64_t *s = r->s;
    const uint64_t result = rotl(s[0] + s[3], 23) + s[0];
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* log(u) for u in (0, 1]: u = m 2^e, m in [1, 2), log m = 2 atanh((m - 1) / (m + 1)). */
static inline float log_approx(float u) {
    union { float f; uint32_t i; } v = {u};
    const float e = (float)((int32_t)(v.i >> 23) - 127);
    v.i = (v.i & 0x007FFFFFu) | 0x3F800000u;
    const float y = (v.f - 1.0f) / (v.f + 1.0f), y2 = y * y;
    float p = 1.0f / 11.0f;
    p = p * y2 + 1.0f / 9.0f;
    p = p * y2 + 1.0f / 7.0f;
    p = p * y2 + 1.0f / 5.0f;
    p = p * y2 + 1.0f / 3.0f;
    p = p * y2 + 1.0f;
    return e * 0.69314718055994531f + 2.0f * y * p;
}

/* The two normals of each pair (u1, u2): r cos(2 pi u2), r sin(2 pi u2) with
 * r = scale sqrt(-2 log u1). The angle is a quadrant q and phi in [-pi/4, pi/4) around
 * its middle, where short Taylor polynomials are exact to float precision. */
CLONES static void box_muller(const float *u1, const float *u2, size_t pairs, float scale, float *out) {
    for (size_t j = 0; j < pairs; j++) {
        /* The builtin, unlike sqrtf, never sets errno, so the loop vectorises (6x). */
        const float radius = scale * __builtin_elementwise_sqrt(-2.0f * log_approx(u1[j]));
        const float t = u2[j] * 4.0f;
        const int q = (int)t;
        const float x = (t - (float)q - 0.5f) * 1.57079632679489662f;  /* [-pi/4, pi/4) */
        const float x2 = x * x;
        const float s0 = x * (1.0f + x2 * (-1.0f / 6 + x2 * (1.0f / 120 + x2 * (-1.0f / 5040 + x2 * (1.0f / 362880)))));
        const float c0 = 1.0f + x2 * (-0.5f + x2 * (1.0f / 24 + x2 * (-1.0f / 720 + x2 * (1.0f / 40320))));
        /* Rotate by pi/4 into the quadrant, then by q quarter turns. */
        const float c = (c0 - s0) * 0.70710678118654752f, s = (c0 + s0) * 0.70710678118654752f;
        const float cq = q == 0 ? c : q == 1 ? -s : q == 2 ? -c : s;
        const float sq = q == 0 ? s : q == 1 ? c : q == 2 ? -s : -c;
        out[2 * j] = radius * cq;
        out[2 * j + 1] = radius * sq;
    }
}

void ld4mrk_fill_gaussian(uint64_t seed_value, float *out, size_t n, float scale) {
    xoshiro r;
    seed(&r, seed_value);
    enum { CHUNK = 256 };
    float u1[CHUNK], u2[CHUNK], pairs_out[2 * CHUNK];
    for (size_t i = 0; i < n; i += 2 * CHUNK) {
        const size_t remaining = n - i;
        const size_t pairs = remaining >= 2 * CHUNK ? CHUNK : (remaining + 1) / 2;
        for (size_t j = 0; j < pairs; j++) {
            const uint64_t bits = next(&r);
            u1[j] = ((float)(bits >> 40) + 0.5f) * 0x1p-24f;        /* (0, 1): log is finite */
            u2[j] = (float)((bits >> 16) & 0xFFFFFFu) * 0x1p-24f;  /* [0, 1) */
        }
        if (remaining >= 2 * pairs) {
            box_muller(u1, u2, pairs, scale, out + i);
        } else {  /* an odd tail: the last pair's second value is dropped */
            box_muller(u1, u2, pairs, scale, pairs_out);
            for (size_t j = 0; j < remaining; j++) out[i + j] = pairs_out[j];
        }
    }
}

void ld4mrk_dropout(uint64_t seed_value, float *x, size_t n, float p) {
    xoshiro r;
    seed(&r, seed_value);
    /* Four 16-bit uniforms per draw, entry i taking bits 16 (i mod 4) and up of draw
     * i / 4; an entry is dropped when its uniform is below p. The uniforms of a chunk are
     * drawn first and the second loop masks bits rather than branching, so that it
     * vectorises: a branch per entry, mispredicted half the time at p = 0.5, made the
     * loop 10x slower. */
    const uint32_t threshold = (uint32_t)(p * 65536.0f + 0.5f);
    const float keep = 1.0f / (1.0f - p);
    enum { CHUNK = 256 };
    uint16_t u[CHUNK];
    for (size_t i = 0; i < n; i += CHUNK) {
        const size_t count = n - i < CHUNK ? n - i : CHUNK;
        for (size_t j = 0; j < count; j += 4) {
            const uint64_t bits = next(&r);
            for (int b = 0; b < 4; b++) u[j + b] = (uint16_t)(bits >> (16 * b));
        }
        for (size_t j = 0; j < count; j++) {
            union { float f; uint32_t bits; } v = {x[i + j] * keep};
            v.bits &= -(uint32_t)(u[j] >= threshold);
            x[i + j] = v.f;
        }
    }
}
