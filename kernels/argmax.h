// Greedy decoding's choice: the index of each row's largest value, as torch's argmax picks it —
// the first index of the maximum on ties, and the first NaN where a row holds one (torch treats
// NaN as larger than everything).
// Why: torch's argmax over [64, 3534] logits took 150-230 us a decoding step on the 2-core VM,
// ~4% of a batch-64 step; this takes a vectorised pass for the maximum and a scan that stops at
// its first occurrence.
// Check: tst_kernels_argmax.
#pragma once

#include <cstdint>

namespace qb::kernels {

// x: rows of `cols` values, row stride ld; out[r] = the chosen index of row r. cols >= 1.
void argmax_rows_ref(const float *x, std::int64_t rows, std::int64_t cols, std::int64_t ld,
                     std::int64_t *out);
void argmax_rows(const float *x, std::int64_t rows, std::int64_t cols, std::int64_t ld,
                 std::int64_t *out);

} // namespace qb::kernels
