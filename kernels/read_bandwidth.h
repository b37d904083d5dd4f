// A streaming read: the float32 sum of a buffer, written to be limited by memory reads (SIMD
// loads, several independent accumulators), so that timing it over a buffer far larger than the
// last-level cache measures the machine's read bandwidth. Used by quantbench-cli bench kernels
// as the roofline the fused kernels (fused_linear.h) are measured against.
// Paths as fused_linear.h (the best this CPU has unless `path` says otherwise).
// Check: tst_kernels_fused_linear (sum against a double reference).
#pragma once

#include "kernels/fused_linear.h"

#include <cstdint>

namespace qb::kernels {

// Sum of p[0..n) in float32 (order of additions unspecified).
float stream_sum(const float *p, std::int64_t n, KernelPath path);

} // namespace qb::kernels
