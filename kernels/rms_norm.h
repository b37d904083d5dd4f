// RMSNorm of rows, for inference: y[i, c] = x[i, c] / sqrt(mean_c x[i, c]² + eps) · w[c].
// x, y: [rows, cols] float32 contiguous (y may be x), w: [cols].
// rms_norm_ref sums in double; rms_norm in float32 with eight partial sums in a fixed order (the
// compiler vectorises them), as torch's x · rsqrt(mean(x²) + eps) · w up to float rounding.
// Why: torch runs it as six ops (pow, mean, add, rsqrt, two multiplies), each a dispatch and a
// temporary; a decoding step of the built-in reasoner at batch 64 has nine (docs/generation.md).
// Check: tst_kernels_layer_ops.
#pragma once

#include <cstdint>

namespace qb::kernels {

void rms_norm_ref(const float *x, const float *w, float eps, float *y, std::int64_t rows,
                  std::int64_t cols);
void rms_norm(const float *x, const float *w, float eps, float *y, std::int64_t rows,
              std::int64_t cols);

} // namespace qb::kernels
