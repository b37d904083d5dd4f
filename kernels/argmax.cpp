#include "kernels/argmax.h"

#include <cmath>

namespace qb::kernels {

void argmax_rows_ref(const float *x, std::int64_t rows, std::int64_t cols, std::int64_t ld,
                     std::int64_t *out)
{
    for (std::int64_t r = 0; r < rows; ++r) {
        const float *row = x + r * ld;
        std::int64_t best = 0;
        for (std::int64_t c = 1; c < cols && !std::isnan(row[best]); ++c)
            if (std::isnan(row[c]) || row[c] > row[best])
                best = c;
        out[r] = best;
    }
}

void argmax_rows(const float *x, std::int64_t rows, std::int64_t cols, std::int64_t ld,
                 std::int64_t *out)
{
    constexpr int kLanes = 16;
    for (std::int64_t r = 0; r < rows; ++r) {
        const float *row = x + r * ld;
        // The maximum over kLanes partial maxima (the compiler vectorises the lanes), and
        // whether any value is NaN (x != x); then the first index holding it.
        float top[kLanes];
        bool nan[kLanes] = {};
        for (int l = 0; l < kLanes; ++l)
            top[l] = row[0];
        std::int64_t c = 0;
        for (; c + kLanes <= cols; c += kLanes)
            for (int l = 0; l < kLanes; ++l) {
                const float v = row[c + l];
                top[l] = v > top[l] ? v : top[l];
                nan[l] |= v != v;
            }
        for (int l = 0; c < cols; ++c, ++l) {
            top[l] = row[c] > top[l] ? row[c] : top[l];
            nan[l] |= row[c] != row[c];
        }
        float best = top[0];
        bool anyNan = false;
        for (int l = 0; l < kLanes; ++l) {
            best = top[l] > best ? top[l] : best;
            anyNan |= nan[l];
        }
        std::int64_t at = 0;
        if (anyNan)
            while (!std::isnan(row[at]))
                ++at;
        else
            while (row[at] != best)
                ++at;
        out[r] = at;
    }
}

} // namespace qb::kernels
