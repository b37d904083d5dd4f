// Int8-activation dot-product kernels: y[m, out] = x[m, in] · Wᵀ (+ bias) with the activations
// rounded to int8 per block of 32 values (scale d = absmax / 127, q = round(x / d)) once per
// call, and every weight row's integer codes multiplied with them by integer dot products (AVX-512
// VNNI `vpdpbusd`: 64 byte products per instruction) before one float multiply-add per 32
// columns. This is llama.cpp's q8_0 activation scheme; it is NOT the float path of
// fused_linear.h: the activations are rounded, so y differs from the dequantize reference by at
// most Σ_i |w_i| · d(block of i) / 2 per output (|x_i − d q_i| ≤ d / 2), and results change.
// It is therefore off unless asked for (core/quant/fused_kernels.h: QB_ACT_Q8=1 or
// setInt8ActivationKernels).
//
// Formats (the stored layouts of fused_linear.h, unchanged, nothing repacked):
//   Int8Row: codes s8, y = s_row · Σ_b d_b Σ_{i∈b} q_w q_x. `vpdpbusd` multiplies unsigned by
//            signed bytes, so |q_x| is the unsigned operand and the weight takes q_x's sign.
//   IntGroup with k = 4 or 8: codes u8 (0..2^k − 1), zero points as fused_linear.h,
//            y = Σ_g s_g (Σ_{b⊂g} d_b Σ_{i∈b} c_i q_x − z_g Σ_{i∈g} d q_x).
//   Blockwise4 (NF4, FP4), block length a multiple of 64 that divides the row: the codebook is
//            rounded to int8 steps, book8 = round(127 · book) (llama.cpp's IQ4_NL does the same
//            for its non-linear 4-bit table), y = Σ_b absmax_b / 127 · Σ_{k⊂b} d_k Σ book8 q_x.
//            Unlike the other formats this also moves each weight, by at most absmax / 254
//            (q8_weight), so the bound adds Σ_i |x̂_i| · |w_i − w'_i|.
// Group lengths: 32, 64, any multiple of 64, or the whole row; cols a multiple of 64
// (q8_supported says).
// Blocks: 32 consecutive columns share a scale, as llama.cpp's q8_0.
// Kernel order (Q8Input::q): byte formats keep natural order. 4-bit rows hold column 2j in the
// high nibble of byte j and 2j + 1 in the low one; the kernels take 128 columns a step (a
// superchunk: one 64-byte load of codes, its low nibbles in one vector and its high ones in
// another), so each 128 columns of activations are stored as the odd columns of their first
// and second 64, then the even columns of both. The low and high dot products then add into the
// same int32 lanes, lane l holding columns 8l .. 8l + 7 (one activation block, one weight group
// or block), and one conversion and one multiply-add serve 128 columns. Where cols % 128 == 64
// the last 64 columns are one step: odd columns, then even ones.
//
// Paths: fused_linear_q8_ref (scalar, double sums: the check) and fused_linear_q8 (AVX-512
// VNNI when the CPU has it, else the reference). Threads: none; split rows as fused_linear.
// Check: tst_kernels_fused_linear_q8. Benchmark: quantbench-cli bench kernels.
#pragma once

#include "kernels/fused_linear.h"

#include <array>
#include <cstdint>
#include <vector>

namespace qb::kernels {

// Whether w can run here: cols % 64 == 0 and Int8Row, IntGroup with 4 or 8 bits and a group
// length of 32, 64, a multiple of 64 or the whole row, or Blockwise4 with a block length that is
// a multiple of 64 and divides cols.
bool q8_supported(const FusedWeight &w);
// Whether this CPU has AVX-512 F/BW/VL and VNNI.
bool q8_vnni_supported();
// Whether it also has GFNI and AVX-512 VBMI (4-bit codes decoded by one affine transform instead
// of a shift and a mask, NF4/FP4 looked up by vpermb without masks; the same values).
bool q8_gfni_vbmi_supported();

// The activations of one call, quantized for w's format (see above).
struct Q8Input
{
    std::int64_t m = 0, cols = 0;
    bool nibble_order = false;      // 4-bit codes: the kernel order above
    bool gfni_vbmi = false;         // decode 4-bit codes with GFNI and VBMI (q8_prepare_input
                                    // sets it where the CPU has both; false forces shifts,
                                    // masks and vpshufb)
    CacheLineVector<std::int8_t> q;    // [m, cols] in kernel order
    std::vector<float> d;           // [m, cols / 32] scale of each block of 32 columns
    // Per step (128 columns of 4-bit codes or a last 64, else 64 columns), the sixteen int32
    // lanes of its dot product:
    CacheLineVector<float> d_lanes;    // INT formats: [m, steps, 16] each lane's block scale;
                                       // Blockwise4: its block scale d / 127
    CacheLineVector<std::int32_t> neg_lanes; // Blockwise4: [m, steps, 16] -128 · Σ of the lane's
                                         // codes
    std::vector<float> d_book;      // Blockwise4: [m, cols / 32] d / 127
    std::vector<float> group_sum;   // IntGroup: [m, G] Σ over the group's columns of d q
    std::array<std::uint8_t, 16> book_lut{}; // Blockwise4: q8_codebook(w) + 128
};
// AVX-512 where the CPU has it; the _ref twin is plain C++. Both give identical bytes (tested).
Q8Input q8_prepare_input(const FusedWeight &w, const float *x, std::int64_t m);
Q8Input q8_prepare_input_ref(const FusedWeight &w, const float *x, std::int64_t m);

// NF4 / FP4: the 16 codebook values rounded to int8 steps, round(127 · book[c]) (as llama.cpp's
// IQ4_NL table), and the weight value the int8 path multiplies by at (r, c):
// absmax / 127 · that step (within absmax / 254 of the stored weight). Other formats: throws.
std::array<std::int8_t, 16> q8_codebook(const FusedWeight &w);
float q8_weight(const FusedWeight &w, std::int64_t r, std::int64_t c);

// The value x_i is replaced by in the products (d_b q_i), at natural column c of row i; for
// tests and error bounds.
float q8_dequantized(const Q8Input &in, std::int64_t i, std::int64_t c);

// y[i, r] for r in [row_begin, row_end), all i < m; y is [m, w.rows]. Same contract as
// fused_linear.
void fused_linear_q8_ref(const FusedWeight &w, const Q8Input &in, float *y,
                         std::int64_t row_begin, std::int64_t row_end);
void fused_linear_q8(const FusedWeight &w, const Q8Input &in, float *y, std::int64_t row_begin,
                     std::int64_t row_end);

} // namespace qb::kernels
