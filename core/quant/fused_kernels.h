// The bridge from the quantized LinearOps to kernels/fused_linear.h: runs a packed weight on a
// float32 input through the kernel path this process uses, with the output rows split over
// torch's intra-op thread pool (at::parallel_for; kernels/ itself never starts threads), and the
// switch that turns the fused path off so forward() takes dequantize + matmul (the reference).
// Thread safety: runFused as the ops (one caller per op at a time); the switch is atomic.
#pragma once
#include "kernels/fused_linear.h"
#include "quant/kernel_settings.h"

#include <ATen/ATen.h>

namespace qb {

// Whether QuantizedLinear::forward may take fusedForward(). Starts true unless the environment
// variable QB_FUSED is "0"; tests and benchmarks flip it to compare with the reference.
bool fusedKernelsEnabled();
void setFusedKernelsEnabled(bool enabled);

// y = x Wᵀ + b through the fused kernel. x: [..., w.cols] (any float dtype, converted to float32)
// -> [..., w.rows] float32, or an undefined tensor for an input not on the CPU (the caller then
// takes its reference). The kernel path is kernels::active_kernel_path() (QB_KERNEL_PATH).
// With int8 activations on (kernel_settings.h) and a format they support, every row count takes
// them, so one evaluation never mixes two arithmetics; otherwise inputs of more than
// floatMaxRows rows get an undefined tensor (the caller's reference is faster there).
at::Tensor runFused(const kernels::FusedWeight &w, const at::Tensor &x,
                    int64_t floatMaxRows = INT64_MAX);

} // namespace qb
