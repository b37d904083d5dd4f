#include "kernels/silu_mul.h"

#include "kernels/exp_approx.h"

#include <cmath>

namespace qb::kernels {

void silu_mul_ref(const float *g, const float *u, float *y, std::int64_t n)
{
    for (std::int64_t i = 0; i < n; ++i)
        y[i] = static_cast<float>(double(g[i]) / (1.0 + std::exp(-double(g[i]))) * double(u[i]));
}

namespace {

// sigmoid(x) from e^-|x| <= 1: 1 / (1 + e) for x >= 0, e / (1 + e) below.
inline float sigmoid(float x)
{
    const float e = exp_nonpositive(-std::fabs(x));
    return (x >= 0.0f ? 1.0f : e) / (1.0f + e);
}

} // namespace

void silu_mul(const float *g, const float *u, float *y, std::int64_t n)
{
    std::int64_t i = 0;
#ifdef __AVX2__
    // The same on eight lanes (GCC does not vectorise the scalar form).
    const __m256 sign = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1.0f);
    for (; i + 8 <= n; i += 8) {
        const __m256 x = _mm256_loadu_ps(g + i);
        const __m256 e = exp_nonpositive_avx2(_mm256_or_ps(x, sign));
        const __m256 top = _mm256_blendv_ps(e, one, _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GE_OQ));
        const __m256 sig = _mm256_div_ps(top, _mm256_add_ps(one, e));
        _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_mul_ps(x, sig), _mm256_loadu_ps(u + i)));
    }
#endif
    for (; i < n; ++i)
        y[i] = g[i] * sigmoid(g[i]) * u[i];
}

} // namespace qb::kernels
