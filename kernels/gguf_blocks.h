// GGML's block formats as stored in GGUF files: Q8_0 and Q4_0 (32 values per block, one fp16
// scale), and the F16 / F32 element types. Scalar references only; GGUF export runs once per model.
//
// What it computes (the layouts and rounding of ggml's quantize_row_*_ref, read from
// ggml-org/ggml src/ggml-quants.c; this is our own code):
//   Q8_0 block (34 bytes): fp16 d, then 32 int8 q.  d = absmax / 127, q = roundf(x * (1/d))
//        (ties away from zero), value = q * d16 where d16 is d rounded to fp16.
//   Q4_0 block (18 bytes): fp16 d, then 16 bytes of nibbles. m = the signed value of largest
//        magnitude (the first one on ties), d = m / -8, q = min(15, trunc(x * (1/d) + 8.5)),
//        byte j holds value j in its low nibble and value j + 16 in its high nibble;
//        value = (q - 8) * d16. The value m itself maps to q = 0 (-8 * d = m).
//   A block of zeros gets d = 0 and decodes to zeros. Scales are computed in float32 and only
//   the stored d is rounded to fp16 (round to nearest even), as ggml does.
// Rows must hold a multiple of 32 values for the block types.
//
// Check: tests/core/tst_gguf.cpp (hand-computed blocks; ggml's own to_float was compared by the
// outside check described in docs/gguf.md).
#pragma once

#include <cstddef>
#include <cstdint>

namespace qb::kernels {

constexpr std::int64_t kGgmlBlock = 32;
constexpr std::size_t kQ8_0BlockBytes = 34;
constexpr std::size_t kQ4_0BlockBytes = 18;

// IEEE half <-> float (round to nearest even; overflow to inf, NaN kept).
std::uint16_t fp32_to_fp16(float value);
float fp16_to_fp32(std::uint16_t bits);

// x: n floats (n % 32 == 0) -> n / 32 blocks written to out.
void quantize_q8_0_ref(const float *x, std::int64_t n, std::uint8_t *out);
void quantize_q4_0_ref(const float *x, std::int64_t n, std::uint8_t *out);
// blocks -> n floats.
void dequantize_q8_0_ref(const std::uint8_t *blocks, std::int64_t n, float *out);
void dequantize_q4_0_ref(const std::uint8_t *blocks, std::int64_t n, float *out);

// Per-block view used by importers: the scale (as float) and the 32 codes of block b, codes
// as unsigned values in stored order of elements (element i of the block at index i):
// Q8_0 codes are q + 128 (0..255), Q4_0 codes are the nibbles (0..15).
void unpack_q8_0_block(const std::uint8_t *block, float *scale, std::uint8_t *codes);
void unpack_q4_0_block(const std::uint8_t *block, float *scale, std::uint8_t *codes);

void fp32_to_fp16_row(const float *x, std::int64_t n, std::uint16_t *out);
void fp16_to_fp32_row(const std::uint16_t *x, std::int64_t n, float *out);

} // namespace qb::kernels
