/* Vectorisation helpers for the elementwise hot loops.
 *
 * AE_CLONES compiles a function for x86-64-v4 (AVX-512), x86-64-v3 (AVX2)
 * and the baseline, and picks the best one for the running CPU at load
 * time (GCC target_clones), so a portable build still uses the wide
 * registers.  FMA contraction stays off (ISO C mode), so each clone computes
 * the same per-element values; only the order of summations may differ
 * between clones.  The fast exp/log1p below are branch-free so loops that
 * use them vectorise. */
#ifndef AE_SIMD_H
#define AE_SIMD_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__) && !defined(AE_NO_CLONES)
#define AE_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define AE_CLONES
#endif

/* A loop that both reads an array and zeroes it (the optimizer's gradient
 * reset) must stay one pass: GCC would otherwise split the zeroing out into
 * a memset, a second sweep over the gradients (2.3% of a step). */
#if defined(__GNUC__) && !defined(__clang__)
#define AE_ONE_PASS __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define AE_ONE_PASS
#endif

/* e^x for x <= 0 (larger x is not needed here), relative error < 2e-7:
 * x = n ln2 + r with |r| <= ln2/2 (ln2 split in two for exactness), e^r by
 * the Cephes minimax polynomial, 2^n built in the exponent bits.  Below
 * -87.3 the result would be subnormal; x is clamped there (e^-87.3 = 1.2e-38). */
static inline float ae_fast_exp_neg(float x)
{
    x = x < -87.3f ? -87.3f : x;
    float n = floorf(x * 1.44269504089f + 0.5f); /* nearest integer (vroundps, unlike an int cast) */
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* log(1 + e) for 0 <= e <= 1, relative error < 2e-7, exact for tiny e:
 * log(1+e) = 2 atanh(s) with s = e / (2 + e) <= 1/3, by its odd series. */
static inline float ae_fast_log1p01(float e)
{
    float s = e / (2.0f + e), s2 = s * s;
    float p = 1.0f / 15.0f;
    p = p * s2 + 1.0f / 13.0f;
    p = p * s2 + 1.0f / 11.0f;
    p = p * s2 + 1.0f / 9.0f;
    p = p * s2 + 1.0f / 7.0f;
    p = p * s2 + 1.0f / 5.0f;
    p = p * s2 + 1.0f / 3.0f;
    p = p * s2 + 1.0f;
    return 2.0f * s * p;
}

#endif
