// INT8 x INT8 -> INT32 GEMM, the integer core of LLM.int8().
//
// What it computes: C[m, n] = sum_k A[m, k] * B[n, k] with A activations [M, K] int8 row-major
// and B weights [N, K] int8 row-major (a Linear's [out, in] layout, so C = A B^T), C [M, N] int32.
// Exact integer arithmetic; K must stay below 2^31 / 127^2 ~ 133k so int32 cannot overflow (the
// -128 code is never produced by our quantizers, and K <= 131072 is asserted).
// Paths: AVX2 sign-extends to int16 and uses _mm256_madd_epi16 (pairwise int16 products summed
// into int32, exact), four B rows per A row to reuse each A load; AVX-512 VNNI (where the CPU
// has it) multiplies 64 bytes an instruction with A taken as a + 128 (see below).
//
// Check: tst_kernels_int8 (every path == reference exactly).
#pragma once

#include "kernels/fused_linear.h"

#include <cstdint>

namespace qb::kernels {

void gemm_s8s8s32_ref(const std::int8_t *a, const std::int8_t *b, std::int64_t m, std::int64_t n,
                      std::int64_t k, std::int32_t *c);
void gemm_s8s8s32(const std::int8_t *a, const std::int8_t *b, std::int64_t m, std::int64_t n,
                  std::int64_t k, std::int32_t *c);
// Columns [col_begin, col_end) of the same C (row stride n): disjoint column ranges may be
// computed by different threads; the integers are exact, so any split gives the same C.
void gemm_s8s8s32_cols(const std::int8_t *a, const std::int8_t *b, std::int64_t m,
                       std::int64_t n, std::int64_t k, std::int32_t *c, std::int64_t col_begin,
                       std::int64_t col_end);
// The same through `path`: Avx512 takes AVX-512 VNNI (vpdpbusd, 64 byte products an
// instruction, A as a + 128 and 128 Σ b taken off per B row) where the CPU has it; any other
// path the AVX2 madd kernel. Every path gives the same exact integers.
void gemm_s8s8s32_cols(const std::int8_t *a, const std::int8_t *b, std::int64_t m,
                       std::int64_t n, std::int64_t k, std::int32_t *c, std::int64_t col_begin,
                       std::int64_t col_end, KernelPath path);

} // namespace qb::kernels
