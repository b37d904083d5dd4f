#include "kernels/rms_norm.h"

#include <cmath>

namespace qb::kernels {

void rms_norm_ref(const float *x, const float *w, float eps, float *y, std::int64_t rows,
                  std::int64_t cols)
{
    for (std::int64_t i = 0; i < rows; ++i) {
        const float *xi = x + i * cols;
        double sum = 0;
        for (std::int64_t c = 0; c < cols; ++c)
            sum += double(xi[c]) * double(xi[c]);
        const double r = 1.0 / std::sqrt(sum / double(cols) + double(eps));
        for (std::int64_t c = 0; c < cols; ++c)
            y[i * cols + c] = static_cast<float>(double(xi[c]) * r * double(w[c]));
    }
}

void rms_norm(const float *x, const float *w, float eps, float *y, std::int64_t rows,
              std::int64_t cols)
{
    for (std::int64_t i = 0; i < rows; ++i) {
        const float *xi = x + i * cols;
        float acc[8] = {};
        std::int64_t c = 0;
        for (; c + 8 <= cols; c += 8)
            for (int l = 0; l < 8; ++l)
                acc[l] += xi[c + l] * xi[c + l];
        for (int l = 0; c < cols; ++c, ++l)
            acc[l] += xi[c] * xi[c];
        const float sum
            = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
        const float r = 1.0f / std::sqrt(sum / static_cast<float>(cols) + eps);
        float *yi = y + i * cols;
        for (c = 0; c < cols; ++c)
            yi[c] = xi[c] * r * w[c];
    }
}

} // namespace qb::kernels
