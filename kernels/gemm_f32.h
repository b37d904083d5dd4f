// Float32 GEMM over a weight packed once: y[m, n] = Σ_k x[m, k] · W[n, k] (+ bias[n]), for the
// dense linears of inference (decoding at 1-64 rows, prefill at thousands).
//
// Why not BLAS: torch hands every call to OpenBLAS's sgemm, which copies the weight into its own
// panel layout on every call (`sgemm_incopy`, 10% of a batch-64 generation's samples under perf)
// and zero-fills the output first (`sgemm_beta`, 2%). Here the weight is packed once, when the
// linear is first used for inference, and the micro-kernel reads the packed panels directly.
//
// Packed layout: the output rows in panels of kGemmPanel (32); panel p holds W[32p .. 32p + 31, k]
// for k = 0 .. cols - 1 as [cols][32] (k-major, 32 consecutive floats a k), the last panel's
// missing rows zero. gemm_f32_packed_floats(rows, cols) floats.
//
// Arithmetic: every path computes each output as the same chain of float32 fused multiply-adds in
// k order, acc = fma(x[m, k], W[n, k], acc) from acc = 0, then y = acc + bias[n]. So every path
// gives the same bits as gemm_f32_ref, and a row's result does not depend on how many rows share
// the call or how the work is split (batch-invariant: a prompt decodes the same alone or in a
// batch of 64). It differs from OpenBLAS only in summation order.
//
// Paths (KernelPath): Scalar (gemm_f32_ref on the unpacked weight), Portable (plain C++ over the
// panels), Avx2 (tiles of up to 6 rows × 16 columns), Avx512 (tiles of up to 12 rows × 32
// columns: 24 accumulators, each k one load of the panel's two vectors and one broadcast a row).
// Row blocks of 1-3 rows (decoding) take up to four full panels in one tile on both SIMD paths,
// so that the multiply-adds have independent chains to interleave.
//
// Threads: none here. The caller splits (row block, panel) items over its threads; calls on
// disjoint items of one y are safe. Check: tst_kernels_gemm_f32.
#pragma once

#include "kernels/fused_linear.h"

#include <cstdint>

namespace qb::kernels {

constexpr std::int64_t kGemmPanel = 32;

std::int64_t gemm_f32_panels(std::int64_t rows);
std::int64_t gemm_f32_packed_floats(std::int64_t rows, std::int64_t cols);
// w: [rows, cols] row-major -> packed (gemm_f32_packed_floats(rows, cols) floats): every panel,
// or panels [panel_begin, panel_end) (disjoint ranges may be packed by different threads).
void gemm_f32_pack(const float *w, std::int64_t rows, std::int64_t cols, float *packed);
void gemm_f32_pack_panels(const float *w, std::int64_t rows, std::int64_t cols, float *packed,
                          std::int64_t panel_begin, std::int64_t panel_end);
// The same through `path`: Avx2 and Avx512 move 8 x 8 blocks by register shuffles, the others
// one value at a time. Every path writes the same bytes (a copy).
void gemm_f32_pack_panels(const float *w, std::int64_t rows, std::int64_t cols, float *packed,
                          std::int64_t panel_begin, std::int64_t panel_end, KernelPath path);
// Rows [0, rows) of w ([rows, cols] row-major) into rows [row_offset, row_offset + rows) of one
// panel (cols x kGemmPanel floats), the panel's other rows untouched: a panel filled a few rows
// at a time holds the same bytes as gemm_f32_pack_panels' (std::invalid_argument unless
// 0 <= row_offset and row_offset + rows <= kGemmPanel).
void gemm_f32_pack_rows(const float *w, std::int64_t rows, std::int64_t cols, float *panel,
                        std::int64_t row_offset, KernelPath path);

struct GemmF32Args
{
    const float *x = nullptr; // [m, k], row stride ldx
    std::int64_t m = 0, ldx = 0;
    const float *packed = nullptr; // gemm_f32_pack of W [n, k]
    std::int64_t n = 0, k = 0;
    const float *bias = nullptr; // [n] or nullptr
    float *y = nullptr;          // [m, n], row stride ldy
    std::int64_t ldy = 0;
};

// Rows of x (and y) in blocks of kGemmRowBlock: an item is one (row block, panel) pair, numbered
// row block first, so a thread given a range of items keeps its rows of x in cache.
constexpr std::int64_t kGemmRowBlock = 192;
// Items of an m x n product, and the multiply-adds of one over k (shared with gemm_bf16.h).
std::int64_t gemm_items(std::int64_t m, std::int64_t n);
std::int64_t gemm_item_work(std::int64_t m, std::int64_t k);
std::int64_t gemm_f32_items(const GemmF32Args &a);
// Multiply-adds of one item (at most kGemmRowBlock · 32 · k).
std::int64_t gemm_f32_item_work(const GemmF32Args &a);
// Computes items [item_begin, item_end) of y through `path` (Scalar reads the packed weight in the
// reference's order).
void gemm_f32(const GemmF32Args &a, std::int64_t item_begin, std::int64_t item_end,
              KernelPath path);

// Rows [row_begin, row_end) of y's columns of panel p, the panel's packed data given directly as
// `panel` ([k][32], e.g. decoded into a scratch buffer just before; a.packed is not read).
void gemm_f32_panel(const GemmF32Args &a, const float *panel, std::int64_t p,
                    std::int64_t row_begin, std::int64_t row_end, KernelPath path);

// The reference on the unpacked weight w [n, k]: acc = fma(x, w, acc) in k order, + bias.
void gemm_f32_ref(const float *x, std::int64_t m, std::int64_t ldx, const float *w,
                  std::int64_t n, std::int64_t k, const float *bias, float *y, std::int64_t ldy);

} // namespace qb::kernels
