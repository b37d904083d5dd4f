// Streaming sum for the read-bandwidth measurement. See read_bandwidth.h.
#include "kernels/read_bandwidth.h"

#include <immintrin.h>
#include <stdexcept>
#include <string>
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

// p[0..h) and p[h..n) (h = n / 2) side by side, 32 floats of each a step.
__attribute__((target("avx512f,avx2,fma"))) float sum2_avx512(const float *p, std::int64_t n)
{
    const std::int64_t h = n / 2;
    const float *q = p + h;
    __m512 a = _mm512_setzero_ps(), b = a, c = a, d = a;
    std::int64_t i = 0;
    for (; i + 32 <= h; i += 32) {
        a = _mm512_add_ps(a, _mm512_loadu_ps(p + i));
        b = _mm512_add_ps(b, _mm512_loadu_ps(p + i + 16));
        c = _mm512_add_ps(c, _mm512_loadu_ps(q + i));
        d = _mm512_add_ps(d, _mm512_loadu_ps(q + i + 16));
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a, b), _mm512_add_ps(c, d)))
        + sum_portable(p + i, h - i) + sum_portable(q + i, n - h - i);
}

__attribute__((target("avx2,fma"))) float sum2_avx2(const float *p, std::int64_t n)
{
    const std::int64_t h = n / 2;
    const float *q = p + h;
    __m256 a = _mm256_setzero_ps(), b = a, c = a, d = a;
    std::int64_t i = 0;
    for (; i + 16 <= h; i += 16) {
        a = _mm256_add_ps(a, _mm256_loadu_ps(p + i));
        b = _mm256_add_ps(b, _mm256_loadu_ps(p + i + 8));
        c = _mm256_add_ps(c, _mm256_loadu_ps(q + i));
        d = _mm256_add_ps(d, _mm256_loadu_ps(q + i + 8));
    }
    float part[8];
    _mm256_storeu_ps(part, _mm256_add_ps(_mm256_add_ps(a, b), _mm256_add_ps(c, d)));
    float s = sum_portable(p + i, h - i) + sum_portable(q + i, n - h - i);
    for (float v : part)
        s += v;
    return s;
}
#endif

float sum2_portable(const float *p, std::int64_t n)
{
    const std::int64_t h = n / 2;
    const float *q = p + h;
    float part[16] = {};
    std::int64_t i = 0;
    for (; i + 8 <= h; i += 8)
        for (int k = 0; k < 8; ++k) {
            part[k] += p[i + k];
            part[8 + k] += q[i + k];
        }
    float s = sum_portable(p + i, h - i) + sum_portable(q + i, n - h - i);
    for (float v : part)
        s += v;
    return s;
}

} // namespace

float stream_sum(const float *p, std::int64_t n, KernelPath path, int streams)
{
    if (streams != 1 && streams != 2)
        throw std::invalid_argument("stream_sum: streams must be 1 or 2, got "
                                    + std::to_string(streams));
    const bool two = streams == 2;
#if defined(__x86_64__) || defined(__i386__)
    if (path == KernelPath::Avx512)
        return two ? sum2_avx512(p, n) : sum_avx512(p, n);
    if (path == KernelPath::Avx2)
        return two ? sum2_avx2(p, n) : sum_avx2(p, n);
#endif
    return two ? sum2_portable(p, n) : sum_portable(p, n);
}

} // namespace qb::kernels
