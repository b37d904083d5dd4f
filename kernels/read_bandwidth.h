// A streaming read: the float32 sum of a buffer, written to be limited by memory reads (SIMD
// loads, several independent accumulators), so that timing it over a buffer far larger than the
// last-level cache measures the machine's read bandwidth. Used by quantbench-cli bench kernels
// as the roofline the fused kernels (fused_linear.h) are measured against.
// streams = 2 reads the buffer's two halves side by side, two vectors of each in turn. On the
// 2-core development VM (Zen 5) two threads read a cold 256 MiB that way 1.00-1.22x as fast as
// one stream each (medians over rounds; 1.07-1.31x re-reading a 128 MiB or 1 GiB buffer), the gain
// coming and going with the VM's memory phases, so the benchmark takes the faster of the two as
// the machine's read rate (docs/kernels.md).
// Paths as fused_linear.h (the best this CPU has unless `path` says otherwise).
// Check: tst_kernels_fused_linear (sum against a double reference).
#pragma once

#include "kernels/fused_linear.h"

#include <cstdint>

namespace qb::kernels {

// Sum of p[0..n) in float32 (order of additions unspecified), read as `streams` (1 or 2;
// std::invalid_argument otherwise) sequential streams at once.
float stream_sum(const float *p, std::int64_t n, KernelPath path, int streams = 1);

} // namespace qb::kernels
