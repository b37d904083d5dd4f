#include "kernels/fused_decode.h"

#include "kernels/fused_linear_impl.h"
#include "kernels/gemm_f32.h"
#include "kernels/int8_rowwise.h"
#include "kernels/int_group.h"
#include "kernels/nf4.h"

#include <stdexcept>
#include <string>

namespace qb::kernels {

bool fused_decode_rows_supported(const FusedWeight &w)
{
    switch (w.format) {
    case FusedFormat::Int8Row:
        return true;
    case FusedFormat::IntGroup:
        return !w.zeros_f;
    case FusedFormat::Blockwise4:
        return w.block_size > 0 && w.cols % w.block_size == 0
            && (w.codebook == codebook4_values(Codebook4::Nf4)
                || w.codebook == codebook4_values(Codebook4::Fp4));
    }
    return false;
}

std::int64_t fused_decode_rows_blocks(const FusedWeight &w, std::int64_t row_begin,
                                      std::int64_t row_end)
{
    if (w.format != FusedFormat::Blockwise4 || w.block_size <= 0)
        return 0;
    return (row_end - row_begin) * w.cols / w.block_size;
}

namespace {

#if defined(__x86_64__) || defined(__i386__)
// The AVX-512 nibble decoders' absmax: Blockwise4's double-quantized absmax of rows
// [row_begin, row_end) decoded into `absmax` (float32 absmax is read where it lies).
void decode_absmax(const FusedWeight &w, std::int64_t row_begin, std::int64_t row_end,
                   float *absmax)
{
    if (w.format == FusedFormat::Blockwise4 && !w.absmax)
        fused_detail::block_absmax_avx512(w, row_begin * w.cols / w.block_size,
                                          fused_decode_rows_blocks(w, row_begin, row_end),
                                          absmax);
}
#endif

} // namespace

bool fused_decode_panel8(const FusedWeight &w, std::int64_t row_begin, float *panel,
                         std::int64_t row_offset, float *absmax, KernelPath path)
{
    if (row_offset < 0 || row_offset + 8 > kGemmPanel || row_begin < 0 || row_begin + 8 > w.rows)
        throw std::invalid_argument("fused_decode_panel8: rows " + std::to_string(row_begin)
                                    + "+8 of " + std::to_string(w.rows) + " at panel row "
                                    + std::to_string(row_offset));
#if defined(__x86_64__) || defined(__i386__)
    if (path == KernelPath::Avx512 && fused_detail::panel8_decodable(w)) {
        decode_absmax(w, row_begin, row_begin + 8, absmax);
        fused_detail::decode_panel8_avx512(w, row_begin, absmax, panel + row_offset);
        return true;
    }
#else
    (void)absmax;
    (void)panel;
    (void)path;
#endif
    return false;
}

void fused_decode_rows(const FusedWeight &w, std::int64_t row_begin, std::int64_t row_end,
                       float *out, float *absmax)
{
    const std::int64_t rows = row_end - row_begin;
#if defined(__x86_64__) || defined(__i386__)
    if (active_kernel_path() == KernelPath::Avx512 && fused_detail::nibble_rows_decodable(w)) {
        decode_absmax(w, row_begin, row_end, absmax);
        fused_detail::decode_nibble_rows_avx512(w, row_begin, row_end, absmax, out);
        return;
    }
#endif
    switch (w.format) {
    case FusedFormat::Int8Row:
        dequantize_int8_rowwise(static_cast<const std::int8_t *>(w.codes) + row_begin * w.cols,
                                w.scales + row_begin, rows, w.cols, out);
        return;
    case FusedFormat::IntGroup: {
        const IntGroupConfig cfg{w.bits, static_cast<int>(w.group), w.zeros_u8 == nullptr};
        if (!w.scales_rows()) { // dense: all rows at once
            dequantize_int_group(w.row_codes(row_begin), w.row_scales(row_begin),
                                 w.row_zeros(row_begin), rows, w.cols, cfg, out);
            return;
        }
        for (std::int64_t r = row_begin; r < row_end; ++r) // the rows layout: a row at a time
            dequantize_int_group(w.row_codes(r), w.row_scales(r), w.row_zeros(r), 1, w.cols, cfg,
                                 out + (r - row_begin) * w.cols);
        return;
    }
    case FusedFormat::Blockwise4: {
        const std::int64_t first = row_begin * w.cols / w.block_size;
        const std::int64_t blocks = fused_decode_rows_blocks(w, row_begin, row_end);
        const float *scales = w.absmax ? w.absmax + first : absmax;
        if (!w.absmax)
            for (std::int64_t b = 0; b < blocks; ++b)
                absmax[b] = fused_detail::block_absmax(w, first + b);
        const Codebook4 kind
            = w.codebook == codebook4_values(Codebook4::Nf4) ? Codebook4::Nf4 : Codebook4::Fp4;
        if (!w.absmax_rows()) { // flattened: all rows at once
            dequantize_blockwise4(kind, static_cast<const std::uint8_t *>(w.codes)
                                            + row_begin * w.cols / 2,
                                  scales, rows * w.cols, w.block_size, out);
            return;
        }
        // The rows layout: a row at a time (float absmax read from the row's own entries).
        const std::int64_t perRow = w.cols / w.block_size;
        for (std::int64_t r = row_begin; r < row_end; ++r) {
            const float *rowScales = w.absmax ? w.absmax + w.absmax_index(r * perRow)
                                              : absmax + (r - row_begin) * perRow;
            dequantize_blockwise4(kind, w.row_codes(r), rowScales, w.cols, w.block_size,
                                  out + (r - row_begin) * w.cols);
        }
        return;
    }
    }
}

} // namespace qb::kernels
