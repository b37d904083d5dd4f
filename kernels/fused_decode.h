// Rows of a packed weight (kernels/fused_linear.h's FusedWeight) decoded to float32, through each
// format's dequantize kernel on the rows' own slice of the storage: the same floats as the
// format's dequantize reference (and as fused_linear_ref's decode). For the GEMM of many input
// rows (core: quant/fused_kernels.h runFused), which decodes one 32-row panel at a time into the
// cache and multiplies it there, instead of writing the whole weight out as float32.
// Check: tst_kernels_fused_linear (fusedDecodeRows...).
#pragma once

#include "kernels/fused_linear.h"

#include <cstdint>

namespace qb::kernels {

// Whether fused_decode_rows can cut this weight by rows: not IntGroup with float zero points
// (zeros_f), not Blockwise4 whose rows do not start on a block (cols % block_size != 0).
bool fused_decode_rows_supported(const FusedWeight &w);

// out [row_end - row_begin, w.cols] row-major = rows [row_begin, row_end) of W, bias not added.
// Where active_kernel_path() is AVX-512, 4-bit INT groups and NF4/FP4 blocks of a multiple of 32
// columns decode through the fused kernels' tables (the same floats), the rest through the
// formats' dequantize kernels.
// `absmax` (Blockwise4 with double-quantized absmax only, else ignored): a buffer of at least
// one float per block the rows cover. Requires fused_decode_rows_supported(w).
void fused_decode_rows(const FusedWeight &w, std::int64_t row_begin, std::int64_t row_end,
                       float *out, float *absmax);

// Rows [row_begin, row_begin + 8) decoded straight into rows [row_offset, row_offset + 8) of a
// packed GEMM panel (kernels/gemm_f32.h: kGemmPanel floats a column): the bytes
// gemm_f32_pack_rows(path) writes from fused_decode_rows' output, without that row-major copy.
// Returns false, writing nothing, where `path` has no such kernel for w (then decode and pack):
// AVX-512 has them for 4-bit INT groups and NF4/FP4 blocks of a multiple of 32 columns, 2- and
// 3-bit INT groups of a multiple of 64, and INT8 rows of a multiple of 16.
// `absmax` as for fused_decode_rows over the eight rows.
bool fused_decode_panel8(const FusedWeight &w, std::int64_t row_begin, float *panel,
                         std::int64_t row_offset, float *absmax, KernelPath path);

// Blocks (Blockwise4) that rows [row_begin, row_end) cover: the size `absmax` needs.
std::int64_t fused_decode_rows_blocks(const FusedWeight &w, std::int64_t row_begin,
                                      std::int64_t row_end);

} // namespace qb::kernels
