// Private to fused_linear*.cpp: how a packed row is cut into segments that share one decode, and
// the scalar decode of one code, used by the reference and by the SIMD paths' tails.
#pragma once

#include "kernels/fused_linear.h"
#include "kernels/int_group.h"

#include <algorithm>
#include <cstdint>
#include <type_traits>

namespace qb::kernels::fused_detail {

// The absmax of flattened block b (reconstructed when double-quantized, as
// dequantize_double_quant_absmax: map[code] · scale, then + offset).
inline float block_absmax(const FusedWeight &w, std::int64_t b)
{
    const std::int64_t at = w.absmax_index(b);
    if (w.absmax)
        return w.absmax[at];
    const std::int64_t group = w.dq_block_size == 256 ? b >> 8 : b / w.dq_block_size;
    const float a = w.dq_map[w.absmax_codes[at]] * w.absmax_scales[group];
    return a + w.absmax_offset;
}

// The runs of columns of row r that share one decode: IntGroup groups (value = (code - zero) ·
// scale), Blockwise4 pieces of flattened blocks (value = book[code] · scale, zero unused), Int8Row
// the whole row (raw code: scale 1, zero 0; the row scale is applied to the row's sum).
// A cursor rather than a callback, so SIMD loops stay in one function with their accumulators in
// registers: while (cursor.next(segment)) { ... }.
struct Segment
{
    std::int64_t begin = 0, end = 0;
    float scale = 1.0f, zero = 0.0f;
};

class SegmentCursor
{
public:
    // No divisions per segment (a 64-bit division costs as much as a 128-weight chunk).
    SegmentCursor(const FusedWeight &w, std::int64_t r) : m_w(w)
    {
        if (w.format == FusedFormat::IntGroup)
            m_row = r;
        else if (w.format == FusedFormat::Blockwise4) {
            m_base = r * w.cols;
            m_index = m_base / w.block_size;
        }
    }
    bool next(Segment &s)
    {
        if (m_c >= m_w.cols)
            return false;
        s.begin = m_c;
        switch (m_w.format) {
        case FusedFormat::Int8Row:
            s.end = m_w.cols;
            s.scale = 1.0f;
            s.zero = 0.0f;
            break;
        case FusedFormat::IntGroup: {
            const std::int64_t g = m_index++;
            s.end = std::min(m_w.cols, m_c + m_w.group);
            s.scale = m_w.row_scales(m_row)[g];
            s.zero = m_w.group_zero(m_row, g);
            break;
        }
        case FusedFormat::Blockwise4: {
            const std::int64_t b = m_index++;
            s.end = std::min(m_w.cols, (b + 1) * m_w.block_size - m_base);
            s.scale = block_absmax(m_w, b);
            s.zero = 0.0f;
            break;
        }
        }
        m_c = s.end;
        return true;
    }

private:
    const FusedWeight &m_w;
    std::int64_t m_c = 0;
    std::int64_t m_index = 0; // group of row m_row, or flattened block, of the next segment
    std::int64_t m_row = 0;   // IntGroup
    std::int64_t m_base = 0;  // flattened index of column 0 (Blockwise4)
};

// Code of column c of row r: int8 value, k-bit unsigned code, or 4-bit nibble.
inline int code_at(const FusedWeight &w, std::int64_t r, std::int64_t c)
{
    switch (w.format) {
    case FusedFormat::Int8Row:
        return static_cast<const std::int8_t *>(w.codes)[r * w.cols + c];
    case FusedFormat::IntGroup: {
        const std::int64_t bytes = int_group_row_bytes(w.bits, w.cols);
        const std::uint8_t *row = w.row_codes(r);
        const std::int64_t bit = c * w.bits;
        const std::int64_t byte = bit >> 3;
        const unsigned window = (unsigned(row[byte]) << 8) | (byte + 1 < bytes ? row[byte + 1] : 0u);
        return static_cast<int>((window >> (16 - (bit & 7) - w.bits)) & ((1u << w.bits) - 1));
    }
    case FusedFormat::Blockwise4: {
        // By row where rows are byte-aligned (even cols: the parity of c is the element's).
        const std::int64_t i = w.code_stride ? c : r * w.cols + c;
        const auto *base = w.code_stride ? w.row_codes(r) : static_cast<const std::uint8_t *>(w.codes);
        const std::uint8_t byte = base[i >> 1];
        return (i & 1) ? (byte & 0x0F) : (byte >> 4);
    }
    }
    return 0;
}

// The decoded weight of a code within a segment (see SegmentCursor).
inline float segment_value(const FusedWeight &w, int code, float scale, float zero)
{
    switch (w.format) {
    case FusedFormat::Int8Row:
        return static_cast<float>(code);
    case FusedFormat::IntGroup:
        return (static_cast<float>(code) - zero) * scale;
    case FusedFormat::Blockwise4:
        return w.codebook[code] * scale;
    }
    return 0.0f;
}

inline bool uses_nibbles(const FusedWeight &w)
{
    return w.format == FusedFormat::Blockwise4
        || (w.format == FusedFormat::IntGroup && w.bits == 4);
}

// 2- and 3-bit INT groups that the SIMD paths read `chunk` codes at a time (FusedOrder::Quads;
// AVX-512 64, AVX2 32): groups of a multiple of the chunk that tile the row (per channel: rows
// of a multiple of it).
inline bool quad_groups(const FusedWeight &w, std::int64_t chunk = 64)
{
    return w.format == FusedFormat::IntGroup && (w.bits == 2 || w.bits == 3) && w.group > 0
        && w.group % chunk == 0 && w.cols % w.group == 0;
}

// y[i, r] from the raw row sums (Int8Row scale, bias).
inline float finish(const FusedWeight &w, std::int64_t r, float sum)
{
    if (w.format == FusedFormat::Int8Row)
        sum *= w.scales[r];
    return w.bias ? sum + w.bias[r] : sum;
}

// Activation rows i .. m - 1 against a weight row or a few: tiles of four, then one of the rest;
// tile(std::integral_constant<int, MR>{}, i0) runs the MR rows from i0.
template <class Tile> void activation_tiles(std::int64_t i, std::int64_t m, Tile &&tile)
{
    for (; i + 4 <= m; i += 4)
        tile(std::integral_constant<int, 4>{}, i);
    switch (m - i) {
    case 3:
        tile(std::integral_constant<int, 3>{}, i);
        break;
    case 2:
        tile(std::integral_constant<int, 2>{}, i);
        break;
    case 1:
        tile(std::integral_constant<int, 1>{}, i);
        break;
    default:
        break;
    }
}

void fused_linear_portable(const FusedWeight &w, const FusedInput &in, float *y,
                           std::int64_t row_begin, std::int64_t row_end);
#if defined(__x86_64__) || defined(__i386__)
void fused_linear_avx2(const FusedWeight &w, const FusedInput &in, float *y,
                       std::int64_t row_begin, std::int64_t row_end);
// out[i] = block_absmax(w, first + i) for i < n, bit for bit, on a CPU with AVX-512 F: a
// double-quantized absmax sixteen blocks at a time (see fused_linear_x86.cpp).
void block_absmax_avx512(const FusedWeight &w, std::int64_t first, std::int64_t n, float *out);
// 4-bit IntGroup weights (no float zero points) and Blockwise4 weights whose groups / blocks (a
// multiple of 32 columns) tile the rows: rows [row_begin, row_end) decoded to out [rows, cols]
// row-major, bit for bit as the dequantize kernels, on a CPU with AVX-512 F/BW
// (fused_decode_rows' fast path). `absmax`: the rows' decoded double-quantized absmax (perRow
// each), read only where w has no float absmax.
bool nibble_rows_decodable(const FusedWeight &w);
void decode_nibble_rows_avx512(const FusedWeight &w, std::int64_t row_begin,
                               std::int64_t row_end, const float *absmax, float *out);
// Rows [row_begin, row_begin + 8) of such a weight into a packed GEMM panel (gemm_f32.h's
// layout, 32 floats a column) from its row `panel` points at: the bytes gemm_f32_pack_rows
// writes from decode_nibble_rows_avx512's rows. `absmax` as there, for the eight rows.
void decode_nibble_panel8_avx512(const FusedWeight &w, std::int64_t row_begin,
                                 const float *absmax, float *panel);
// The weights with an eight-row panel decoder: those above, quad_groups (2- and 3-bit INT) and
// INT8 rows of a multiple of 16 columns; decode_panel8_avx512 picks the decoder.
bool panel8_decodable(const FusedWeight &w);
void decode_panel8_avx512(const FusedWeight &w, std::int64_t row_begin, const float *absmax,
                          float *panel);
void fused_linear_avx512(const FusedWeight &w, const FusedInput &in, float *y,
                         std::int64_t row_begin, std::int64_t row_end);
#endif

} // namespace qb::kernels::fused_detail
