// Streaming sum for the read-bandwidth measurement. See read_bandwidth.h.
#include "kernels/read_bandwidth.h"

#include <immintrin.h>
// GCC 12's _mm512_reduce_add_ps starts from _mm256_undefined_pd(), which it then warns about
// (as in fused_linear_q8.cpp).
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace qb::kernels {

namespace {

float sum_portable(const float *p, std::int64_t n)
{
    float part[16] = {};
    std::int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int k = 0; k < 16; ++k)
            part[k] += p[i + k];
    float s = 0.0f;
    for (; i < n; ++i)
        s += p[i];
    for (float v : part)
        s += v;
    return s;
}

#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx2,fma"))) float sum_avx2(const float *p, std::int64_t n)
{
    __m256 a = _mm256_setzero_ps(), b = a, c = a, d = a;
    std::int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a = _mm256_add_ps(a, _mm256_loadu_ps(p + i));
        b = _mm256_add_ps(b, _mm256_loadu_ps(p + i + 8));
        c = _mm256_add_ps(c, _mm256_loadu_ps(p + i + 16));
        d = _mm256_add_ps(d, _mm256_loadu_ps(p + i + 24));
    }
    float part[8];
    _mm256_storeu_ps(part, _mm256_add_ps(_mm256_add_ps(a, b), _mm256_add_ps(c, d)));
    float s = sum_portable(p + i, n - i);
    for (float v : part)
        s += v;
    return s;
}

__attribute__((target("avx512f,avx2,fma"))) float sum_avx512(const float *p, std::int64_t n)
{
    __m512 a = _mm512_setzero_ps(), b = a, c = a, d = a;
    std::int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        a = _mm512_add_ps(a, _mm512_loadu_ps(p + i));
        b = _mm512_add_ps(b, _mm512_loadu_ps(p + i + 16));
        c = _mm512_add_ps(c, _mm512_loadu_ps(p + i + 32));
        d = _mm512_add_ps(d, _mm512_loadu_ps(p + i + 48));
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a, b), _mm512_add_ps(c, d)))
        + sum_portable(p + i, n - i);
}
#endif

} // namespace

float stream_sum(const float *p, std::int64_t n, KernelPath path)
{
#if defined(__x86_64__) || defined(__i386__)
    if (path == KernelPath::Avx512)
        return sum_avx512(p, n);
    if (path == KernelPath::Avx2)
        return sum_avx2(p, n);
#endif
    return sum_portable(p, n);
}

} // namespace qb::kernels
