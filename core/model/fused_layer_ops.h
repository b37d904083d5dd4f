// The bridge from Transformer's small per-layer ops to kernels/rms_norm.h, rotary.h and
// silu_mul.h: one pass each instead of torch's chains of elementwise ops (dispatch, temporaries,
// and at batch 64 a wake-up of the passive OpenMP worker per op). Taken where no gradient is
// needed (training keeps torch's differentiable ops) and the fused kernels are on (QB_FUSED,
// quant/fused_kernels.h). Rows are split over util/parallel.h's threads only when a call is large.
// Thread safety: pure functions of their arguments.
#pragma once
#include <ATen/ATen.h>

namespace qb {

// Whether the fused layer ops apply to x: float32 on the CPU, no gradient, fused kernels on.
bool fusedLayerOpsApply(const at::Tensor &x);

// x: [..., cols] float32, weight: [cols] float32 -> x · rsqrt(mean(x², -1) + eps) · weight.
at::Tensor fusedRmsNorm(const at::Tensor &x, const at::Tensor &weight, double eps);

// x: [b, t, heads · head_dim] float32 (a projection's output), cos, sin: [b, 1, t, head_dim]
// -> the rotated heads [b, heads, t, head_dim] (a transposed view of [b, t, heads, head_dim]).
at::Tensor fusedRotary(const at::Tensor &x, const at::Tensor &cos, const at::Tensor &sin,
                       int64_t heads, int64_t headDim);

// gate, up: the same shape, float32 -> silu(gate) · up.
at::Tensor fusedSiluMul(const at::Tensor &gate, const at::Tensor &up);

} // namespace qb
