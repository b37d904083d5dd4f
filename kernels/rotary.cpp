#include "kernels/rotary.h"

namespace qb::kernels {

void rotary_ref(const float *x, const float *cos, const float *sin, float *y,
                std::int64_t positions, std::int64_t heads, std::int64_t head_dim)
{
    const std::int64_t half = head_dim / 2;
    for (std::int64_t p = 0; p < positions; ++p)
        for (std::int64_t h = 0; h < heads; ++h) {
            const float *xv = x + (p * heads + h) * head_dim;
            float *yv = y + (p * heads + h) * head_dim;
            const float *c = cos + p * head_dim, *s = sin + p * head_dim;
            for (std::int64_t d = 0; d < head_dim; ++d) {
                const double rotated = d < half ? -double(xv[d + half]) : double(xv[d - half]);
                yv[d] = static_cast<float>(double(xv[d]) * c[d] + rotated * s[d]);
            }
        }
}

void rotary(const float *x, const float *cos, const float *sin, float *y, std::int64_t positions,
            std::int64_t heads, std::int64_t head_dim)
{
    const std::int64_t half = head_dim / 2;
    for (std::int64_t p = 0; p < positions; ++p) {
        const float *c = cos + p * head_dim, *s = sin + p * head_dim;
        for (std::int64_t h = 0; h < heads; ++h) {
            const float *xv = x + (p * heads + h) * head_dim;
            float *yv = y + (p * heads + h) * head_dim;
            for (std::int64_t d = 0; d < half; ++d)
                yv[d] = xv[d] * c[d] - xv[d + half] * s[d];
            for (std::int64_t d = half; d < head_dim; ++d)
                yv[d] = xv[d] * c[d] + xv[d - half] * s[d];
        }
    }
}

} // namespace qb::kernels
