// bfloat16 GEMM over a weight packed once, for the opt-in "bf16 compute" of dense float32
// linears at inference (core/quant/kernel_settings.h): y[m, n] = Σ_k bf16(x[m, k]) · bf16(W[n, k])
// (+ bias[n]). Both operands are rounded to bfloat16 (8 significant bits, round to nearest
// even); their products are exact in float32 and summed in float32, two k at a time
// (`vdpbf16ps`: 32 products an instruction, twice the float32 FMA's 16, at the same one a cycle
// on the development machine's Zen 4, measured), so a product-bound GEMM can run up to 2x
// faster, and the weight reads are halved. It is NOT the float32 arithmetic: each output moves by at most about
// 2^-8 · Σ_k |x_k w_k| (each operand within 2^-9 of its float32 value, relatively), which the
// tests check, so it is off unless asked for.
//
// Packed layout: the output rows in panels of kGemmPanel (32) as in gemm_f32.h; panel p holds,
// for each pair of columns k = 2t, 2t + 1, the 32 rows' words bf16(W[row, 2t]) | bf16(W[row,
// 2t + 1]) << 16 ([pairs][32] uint32, pairs = ceil(cols / 2); a missing odd column and the last
// panel's missing rows are zero). The activations are converted the same way per call
// (gemm_bf16_pack_rows: [m][pairs] words).
//
// Arithmetic and order: each output is acc = 0, then for each pair t in order one `vdpbf16ps`
// step (Intel: acc += x_odd · w_odd, then acc += x_even · w_even, denormals flushed; the exact
// float steps are the CPU's), then + bias. Every row takes the same steps whatever the rows
// beside it, so results are batch-invariant on a given CPU. The reference (gemm_bf16_ref) sums
// the same bf16 products in double: the tests bound the difference.
//
// Paths: the AVX-512 BF16 micro-kernel (tiles of up to 12 rows x 32 columns, 24 accumulators,
// per pair two loads of the panel and one broadcast a row) where the CPU has it
// (gemm_bf16_supported), and plain C++ over the same packed data (Scalar / Portable) elsewhere.
// Threads: none; the caller splits items as for gemm_f32. Check: tst_kernels_gemm_bf16.
#pragma once

#include "kernels/fused_linear.h"
#include "kernels/gemm_f32.h"

#include <cstdint>

namespace qb::kernels {

// bf16 of v rounded to nearest even (a NaN stays a quiet NaN, overflow gives infinity, a
// denormal becomes a signed zero), the rounding of `vcvtne2ps2bf16`; and its float value.
std::uint16_t bf16_round(float v);
float bf16_value(std::uint16_t b);

// Whether this CPU runs the AVX-512 BF16 path (AVX-512 F/BW/VL and BF16).
bool gemm_bf16_supported();

std::int64_t gemm_bf16_pairs(std::int64_t cols);
// uint32 words of a packed [rows, cols] weight.
std::int64_t gemm_bf16_packed_words(std::int64_t rows, std::int64_t cols);
// w: [rows, cols] row-major -> panels [panel_begin, panel_end) of the packed layout.
void gemm_bf16_pack_panels(const float *w, std::int64_t rows, std::int64_t cols,
                           std::uint32_t *packed, std::int64_t panel_begin,
                           std::int64_t panel_end);
// Rows [row_begin, row_end) of x [m, k] (row stride ldx) as pairs: out[i * pairs + t]
// (AVX-512 BF16 conversions where the CPU has them, the same words).
void gemm_bf16_pack_rows(const float *x, std::int64_t ldx, std::int64_t k, std::uint32_t *out,
                         std::int64_t row_begin, std::int64_t row_end);

struct GemmBf16Args
{
    const std::uint32_t *x = nullptr; // gemm_bf16_pack_rows of [m, k]
    std::int64_t m = 0;
    const std::uint32_t *packed = nullptr; // gemm_bf16_pack_panels of W [n, k]
    std::int64_t n = 0, k = 0;
    const float *bias = nullptr; // [n] or nullptr
    float *y = nullptr;          // [m, n], row stride ldy
    std::int64_t ldy = 0;
};

// Items as gemm_f32: (row block of kGemmRowBlock, panel) pairs, row block first.
std::int64_t gemm_bf16_items(const GemmBf16Args &a);
std::int64_t gemm_bf16_item_work(const GemmBf16Args &a);
// Items [item_begin, item_end) of y; Avx512 needs gemm_bf16_supported(), the other paths run
// plain C++ on the packed data.
void gemm_bf16(const GemmBf16Args &a, std::int64_t item_begin, std::int64_t item_end,
               KernelPath path);

// The reference on float32 x [m, k] and w [n, k]: Σ_k bf16(x) · bf16(w) in double, + bias.
void gemm_bf16_ref(const float *x, std::int64_t m, std::int64_t ldx, const float *w,
                   std::int64_t n, std::int64_t k, const float *bias, float *y, std::int64_t ldy);

} // namespace qb::kernels
