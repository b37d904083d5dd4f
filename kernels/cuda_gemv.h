// CUDA twins of the fused dequantize-GEMV/GEMM (fused_linear.h): y[m, rows] = x[m, cols] · Wᵀ
// (+ bias) straight from the packed formats, for small m (decode).
//
// What it computes: the same as fused_linear_ref for every format of FusedWeight (INT8 rows,
// INT-k groups with integer or real zero points, NF4/FP4 blocks with plain or double-quantized
// absmax): each weight decoded to the float32 of the dequantize reference ((code − zero) · scale,
// book[code] · absmax, or the INT8 code with the row scale after the sum), summed in float32 in
// another order (one warp per output row, a tree of shuffles): results equal the reference to
// float32 rounding of the sums.
//
// Without CUDA (QB_HAVE_CUDA undefined) both functions return kCudaUnavailable (cuda_gemv_stub.cpp).
// Errors never abort: each call returns a CudaStatus naming the failing CUDA call.
//
// cuda_fused_linear_device: every array pointer of `w` (codes, scales, zero points, absmax,
// bias) and x, y are device pointers; w.codebook and w.dq_map stay host pointers (16 and 256
// values, passed to the kernel by value). Only enqueues work on `stream` (cudaStream_t as void*).
// cuda_fused_linear_host: all host pointers; copies, runs, copies back, synchronizes.
//
// Check: tst_kernels_cuda_gemv (GPU vs fused_linear_ref; skips without a device). Not yet run on
// a GPU by its author: no device was available when it was written.
#pragma once

#include "kernels/cuda_dequant.h"
#include "kernels/fused_linear.h"

#include <cstdint>

namespace qb::kernels {

CudaStatus cuda_fused_linear_device(const FusedWeight &w, const float *x, std::int64_t m,
                                    float *y, void *stream = nullptr);
CudaStatus cuda_fused_linear_host(const FusedWeight &w, const float *x, std::int64_t m,
                                  float *y);

} // namespace qb::kernels
