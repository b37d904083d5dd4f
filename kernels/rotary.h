// Rotary position embedding (the rotate-half form of Llama, Qwen, Mistral), for inference:
//   y[p, h, d] = x[p, h, d] · cos[p, d] − x[p, h, d + D/2] · sin[p, d]   for d <  D/2
//   y[p, h, d] = x[p, h, d] · cos[p, d] + x[p, h, d − D/2] · sin[p, d]   for d >= D/2
// x, y: [positions, heads, D] float32 contiguous (y must not be x), cos, sin: [positions, D]
// (one row per token position, shared by its heads); D even.
// rotary_ref in double; rotary in float32 (what torch's x · cos + rotate_half(x) · sin computes,
// up to a fused multiply-add). Why: torch spends seven ops on it (two narrows, a negation, a
// concatenation, two multiplies, an add) per query and key tensor of every layer.
// Check: tst_kernels_layer_ops.
#pragma once

#include <cstdint>

namespace qb::kernels {

void rotary_ref(const float *x, const float *cos, const float *sin, float *y,
                std::int64_t positions, std::int64_t heads, std::int64_t head_dim);
void rotary(const float *x, const float *cos, const float *sin, float *y, std::int64_t positions,
            std::int64_t heads, std::int64_t head_dim);

} // namespace qb::kernels
