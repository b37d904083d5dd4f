// The SwiGLU gate of a Llama-family MLP, for inference: y = silu(g) · u = g / (1 + e^−g) · u,
// elementwise over n float32 values (y may be g or u).
// silu_mul_ref in double with std::exp; silu_mul in float32 with exp_approx.h's polynomial, eight
// lanes at a time with AVX2: within 1e-6 relative of the reference.
// Why: torch runs silu and the multiply as two passes, and at batch 64 each [64, 640] pass
// crosses its parallel grain and wakes the second (passively waiting) OpenMP thread, 115-120 µs
// a call against 35 µs on one (docs/generation.md).
// Check: tst_kernels_layer_ops.
#pragma once

#include <cstdint>

namespace qb::kernels {

void silu_mul_ref(const float *g, const float *u, float *y, std::int64_t n);
void silu_mul(const float *g, const float *u, float *y, std::int64_t n);

} // namespace qb::kernels
