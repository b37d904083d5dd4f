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

// Every sum below reads p[0..n) as S streams side by side (S = 1, or 2: the halves p[0..h) and
// p[h..n), h = n / 2), a step taking the same number of floats from each. Stream t's floats are
// p[t h .. end(t)).
template <int S> std::int64_t stream_end(std::int64_t t, std::int64_t h, std::int64_t n)
{
    return t + 1 < S ? (t + 1) * h : n;
}

// Sixteen partial sums a step, 16 / S floats from each stream; each stream's tail one by one.
template <int S> float sum_portable(const float *p, std::int64_t n)
{
    constexpr int L = 16 / S;
    const std::int64_t h = n / S;
    float part[16] = {};
    std::int64_t i = 0;
    for (; i + L <= h; i += L)
        for (int t = 0; t < S; ++t)
            for (int k = 0; k < L; ++k)
                part[t * L + k] += p[t * h + i + k];
    float s = 0.0f;
    for (int t = 0; t < S; ++t)
        for (std::int64_t j = t * h + i; j < stream_end<S>(t, h, n); ++j)
            s += p[j];
    for (float v : part)
        s += v;
    return s;
}

// The tails left by a vector loop that stopped at offset i of every stream.
template <int S> float stream_tails(const float *p, std::int64_t n, std::int64_t h, std::int64_t i)
{
    float s = 0.0f;
    for (int t = 0; t < S; ++t)
        s += sum_portable<1>(p + t * h + i, stream_end<S>(t, h, n) - t * h - i);
    return s;
}

#if defined(__x86_64__) || defined(__i386__)
// Four independent accumulators, 4 / S vectors from each stream a step.
template <int S> __attribute__((target("avx2,fma"))) float sum_avx2(const float *p, std::int64_t n)
{
    constexpr int V = 4 / S;
    const std::int64_t h = n / S;
    __m256 acc[4];
    for (auto &a : acc)
        a = _mm256_setzero_ps();
    std::int64_t i = 0;
    for (; i + 8 * V <= h; i += 8 * V)
        for (int t = 0; t < S; ++t)
            for (int v = 0; v < V; ++v)
                acc[t * V + v]
                    = _mm256_add_ps(acc[t * V + v], _mm256_loadu_ps(p + t * h + i + 8 * v));
    float part[8];
    _mm256_storeu_ps(part, _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]),
                                         _mm256_add_ps(acc[2], acc[3])));
    float s = stream_tails<S>(p, n, h, i);
    for (float v : part)
        s += v;
    return s;
}

template <int S>
__attribute__((target("avx512f,avx2,fma"))) float sum_avx512(const float *p, std::int64_t n)
{
    constexpr int V = 4 / S;
    const std::int64_t h = n / S;
    __m512 acc[4];
    for (auto &a : acc)
        a = _mm512_setzero_ps();
    std::int64_t i = 0;
    for (; i + 16 * V <= h; i += 16 * V)
        for (int t = 0; t < S; ++t)
            for (int v = 0; v < V; ++v)
                acc[t * V + v]
                    = _mm512_add_ps(acc[t * V + v], _mm512_loadu_ps(p + t * h + i + 16 * v));
    return _mm512_reduce_add_ps(
               _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])))
        + stream_tails<S>(p, n, h, i);
}
#endif

template <int S> float stream_sum_on(const float *p, std::int64_t n, KernelPath path)
{
#if defined(__x86_64__) || defined(__i386__)
    if (path == KernelPath::Avx512)
        return sum_avx512<S>(p, n);
    if (path == KernelPath::Avx2)
        return sum_avx2<S>(p, n);
#endif
    return sum_portable<S>(p, n);
}

} // namespace

float stream_sum(const float *p, std::int64_t n, KernelPath path, int streams)
{
    if (streams != 1 && streams != 2)
        throw std::invalid_argument("stream_sum: streams must be 1 or 2, got "
                                    + std::to_string(streams));
    return streams == 2 ? stream_sum_on<2>(p, n, path) : stream_sum_on<1>(p, n, path);
}

} // namespace qb::kernels
