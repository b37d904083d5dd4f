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
// Group lengths: 32, 64, any multiple of 64, or the whole row; cols a multiple of 64
// (q8_supported says). 4-bit rows hold column 2j in the high nibble of byte j and 2j + 1 in the
// low one, so within each 64-column chunk the activations are stored odd columns first, then
// even ones (each half one block of 32), matching the nibbles taken as [low, high] halves.
//
// Paths: fused_linear_q8_ref (scalar, double sums: the check) and fused_linear_q8 (AVX-512
// VNNI when the CPU has it, else the reference). Threads: none; split rows as fused_linear.
// Check: tst_kernels_fused_linear_q8. Benchmark: quantbench-cli bench kernels.
#pragma once

#include "kernels/fused_linear.h"

#include <cstdint>
#include <vector>

namespace qb::kernels {

// Whether w can run here: Int8Row, or IntGroup with 4 or 8 bits, cols % 64 == 0 and a group
// length of 32, 64, a multiple of 64 or the whole row.
bool q8_supported(const FusedWeight &w);
// Whether this CPU has AVX-512 F/BW/VL and VNNI.
bool q8_vnni_supported();

// The activations of one call, quantized for w's format (see above).
struct Q8Input
{
    std::int64_t m = 0, cols = 0;
    bool nibble_order = false;      // 4-bit: odd columns then even per 64-column chunk
    std::vector<std::int8_t> q;     // [m, cols] in kernel order
    std::vector<float> d;           // [m, cols / 32] scale of each block of 32 (kernel order)
    std::vector<float> d_lanes;     // d with each value repeated 8 times (the int32 lanes of a
                                    // block in a 512-bit dot product)
    std::vector<float> group_sum;   // IntGroup: [m, G] Σ over the group's columns of d q
};
Q8Input q8_prepare_input(const FusedWeight &w, const float *x, std::int64_t m);

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
