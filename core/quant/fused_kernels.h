// The bridge from the quantized LinearOps to kernels/fused_linear.h: runs a packed weight on a
// float32 input through the kernel path this process uses, with the output rows split over
// util/parallel.h's pool (kernels/ itself never starts threads), and the
// switch that turns the fused path off so forward() takes dequantize + matmul (the reference).
// Thread safety: runFused as the ops (one caller per op at a time); the switch is atomic.
#pragma once
#include "kernels/fused_linear.h"
#include "quant/kernel_settings.h"

#include <ATen/ATen.h>

#include <string>

namespace qb {

// Whether QuantizedLinear::forward may take fusedForward(). Starts true unless the environment
// variable QB_FUSED is "0"; tests and benchmarks flip it to compare with the reference.
bool fusedKernelsEnabled();
void setFusedKernelsEnabled(bool enabled);

// kernels::active_kernel_path() (QB_KERNEL_PATH), its error as an Error.
kernels::KernelPath activeKernelPath();

// The grain of a parallelFor (util/parallel.h) over items of this many multiply-adds each: a
// thread gets at least ~256K multiply-adds (~64K while a ScopedPoolSpin keeps the workers
// awake, as generation does), below which handing work to another thread costs more than it
// saves.
int64_t splitGrain(int64_t multiplyAddsPerItem);

// y = x Wᵀ + b through the fused kernel. x: [..., w.cols] (any float dtype, converted to float32)
// -> [..., w.rows] float32, or an undefined tensor for an input not on the CPU (the caller then
// takes its reference). The kernel path is kernels::active_kernel_path() (QB_KERNEL_PATH).
// With int8 activations on (kernel_settings.h) and a format they support, every row count takes
// them, so one evaluation never mixes two arithmetics; otherwise inputs of more than
// floatMaxRows rows take a GEMM that decodes W one 32-row panel at a time into a per-thread
// scratch and multiplies it there (kernels/fused_decode.h + gemm_f32.h: the bits of dequantize +
// gemm_f32), or get an undefined tensor where the layout cannot be cut by rows (float zero
// points, blocks across rows), for the caller's reference.
at::Tensor runFused(const kernels::FusedWeight &w, const at::Tensor &x,
                    int64_t floatMaxRows = INT64_MAX);

// A packed weight's bytes where the kernels stream them fastest: `t` contiguous, and from 2 MiB
// up (on Linux, unless the environment variable QB_HUGE_PAGES is "0") a copy in 2 MiB-aligned
// memory advised for transparent huge pages (madvise MADV_HUGEPAGE). In a virtual machine every
// 4 KiB TLB miss is a two-level page walk: on the 2-core development VM a decode GEMV over
// 4 KiB pages reads ~25-30 GB/s, over 2 MiB pages ~34-60 (docs/kernels.md). The values and the
// stored format are unchanged; where the kernel's THP mode is "never" the advice does nothing.
// Resident cost: the tensor rounded up to whole 2 MiB pages (0-2% on Llama-shaped layers).
at::Tensor packedWeightStorage(const at::Tensor &t);
// Whether a weight is kept in a kernels' rows layout (kernels/fused_linear.h IntGroupRows,
// Blockwise4Rows): where its rows of rowBytes cost at most 3% more than the dense
// denseRowBytes (rows of ~1,000 columns and more; shorter rows live in the caches anyway).
bool rowsLayoutPays(int64_t rowBytes, int64_t denseRowBytes);
// Whether packedWeightStorage copies large tensors (QB_HUGE_PAGES, default on); for benchmarks.
bool hugePageWeightsEnabled();
void setHugePageWeights(bool enabled);
// The system's transparent-huge-page mode ("always", "madvise", "never"), or "unknown".
std::string transparentHugePageMode();

} // namespace qb
