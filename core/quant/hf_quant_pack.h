// The int32 packings of the Hugging Face GPTQ and AWQ checkpoint layouts, and the conversion
// between an IntGroupLinear and the per-layer tensors of those layouts. Shared by the export
// (quant/hf_quant_export.h) and the import (quant/hf_quant_import.h); docs/hf-quant-formats.md.
//
// GPTQ (AutoGPTQ / optimum / GPTQModel, "checkpoint_format": "gptq"): a column of K unsigned
// b-bit values is one little-endian bit stream, value k at bits [b*k, b*k + b) of consecutive
// uint32 words (b = 2, 4, 8: 32/b values per word; b = 3: 32 values in 3 words, values 10 and 21
// straddle two words). qweight packs along `in` ([in * b / 32, out]); qzeros packs along `out`
// ([G, out * b / 32]) and holds zero - 1 (the "v1" convention; gptq_v2 stores the zero itself).
// AWQ (AutoAWQ WQLinear_GEMM, "version": "gemm"): 4-bit only, packed along `out`, eight values a
// word, nibble i (bits 4i..4i+3) holding column 8c + order[i] with order = {0,2,4,6,1,3,5,7};
// qweight [in, out / 8], qzeros [G, out / 8] holding the zero itself.
// Both: value = (q - zero) * scale with scales [G, out] float16, group of input column i =
// g_idx[i] (GPTQ) or i / group_size (AWQ).
// Thread safety: pure functions.
#pragma once
#include "quant/int_group_linear.h"

#include <ATen/ATen.h>

#include <string>

namespace qb::hfq {

// values: [K, N] int32 in [0, 2^bits); K * bits must be a multiple of 32 -> [K * bits / 32, N]
// int32 (GPTQ bit stream along dim 0).
at::Tensor packGptqRows(const at::Tensor &values, int bits);
// packed: [K * bits / 32, N] int32 -> [K, N] int32.
at::Tensor unpackGptqRows(const at::Tensor &packed, int bits, int64_t rows);

// values: [R, N] int32 in [0, 16), N a multiple of 8 -> [R, N / 8] int32 (AWQ order).
at::Tensor packAwqCols(const at::Tensor &values);
// packed: [R, N / 8] int32 -> [R, N] int32.
at::Tensor unpackAwqCols(const at::Tensor &packed);

// One quantized linear in the HF convention, before packing / after unpacking.
struct HfLinear
{
    at::Tensor codes;  // [out, in] int32, original column order
    at::Tensor zeros;  // [out, G] int32, the real zero point (dequant: (code - zero) * scale)
    at::Tensor scales; // [out, G] float32
    at::Tensor gIdx;   // [in] int32: the group of each input column
    at::Tensor bias;   // [out] float32 or undefined
    at::Tensor inputScale; // [in] float32 (AWQ smoothing still to fold) or undefined
    int bits = 4;
    int64_t groupSize = -1; // HF convention: -1 = one group per row
    bool symmetric = false; // every zero is 2^(bits-1)
};

// op's codes and parameters in the HF convention (perm turned into g_idx, symmetric zeros made
// explicit). Throws qb::Error naming `where` for what the layouts cannot hold (activation
// quantization, real-valued zero points).
HfLinear fromIntGroup(const IntGroupLinear &op, const std::string &where);

// The inverse: an IntGroupLinear whose forward equals the HF dequantization (perm from g_idx, a
// stable sort; zero points above 2^bits - 1, as a v1 zero of 0 reads back, become real-valued).
// Throws qb::Error naming `where` when g_idx does not split the columns into groups of
// groupSize (as GPTQ's act-order and static groups both do).
std::shared_ptr<IntGroupLinear> toIntGroup(const HfLinear &l, const std::string &method,
                                           const std::string &where);

// Dequantized [out, in] float32 weight in the original column order (the HF formula, for checks).
at::Tensor dequantize(const HfLinear &l);

} // namespace qb::hfq
