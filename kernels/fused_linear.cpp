// Fused dequantize-GEMV/GEMM: path selection, weight descriptors, the scalar reference and the
// portable path. The SIMD paths are in fused_linear_x86.cpp. See fused_linear.h.
// Check: tst_kernels_fused_linear; benchmark: quantbench-cli bench kernels.
#include "kernels/fused_linear.h"

#include "kernels/double_quant.h"
#include "kernels/fused_linear_impl.h"
#include "kernels/int_group.h"

#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

namespace qb::kernels {

using namespace fused_detail;

const char *kernel_path_name(KernelPath path)
{
    switch (path) {
    case KernelPath::Scalar:
        return "scalar";
    case KernelPath::Portable:
        return "portable";
    case KernelPath::Avx2:
        return "avx2";
    case KernelPath::Avx512:
        return "avx512";
    }
    return "?";
}

bool parse_kernel_path(const char *name, KernelPath *path)
{
    for (KernelPath p :
         {KernelPath::Scalar, KernelPath::Portable, KernelPath::Avx2, KernelPath::Avx512})
        if (name && std::strcmp(name, kernel_path_name(p)) == 0) {
            *path = p;
            return true;
        }
    return false;
}

bool kernel_path_supported(KernelPath path)
{
    switch (path) {
    case KernelPath::Scalar:
    case KernelPath::Portable:
        return true;
#if defined(__x86_64__) || defined(__i386__)
    case KernelPath::Avx2:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case KernelPath::Avx512:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")
            && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
            && __builtin_cpu_supports("avx512vl");
#else
    default:
        return false;
#endif
    }
    return false;
}

KernelPath best_kernel_path()
{
    if (kernel_path_supported(KernelPath::Avx512))
        return KernelPath::Avx512;
    if (kernel_path_supported(KernelPath::Avx2))
        return KernelPath::Avx2;
    return KernelPath::Portable;
}

KernelPath active_kernel_path()
{
    static const KernelPath path = [] {
        const char *env = std::getenv("QB_KERNEL_PATH");
        if (!env || !*env)
            return best_kernel_path();
        KernelPath p;
        if (!parse_kernel_path(env, &p))
            throw std::invalid_argument(std::string("QB_KERNEL_PATH=") + env
                                        + " is not one of scalar, portable, avx2, avx512");
        if (!kernel_path_supported(p))
            throw std::invalid_argument(std::string("QB_KERNEL_PATH=") + env
                                        + ": this CPU lacks the instructions of that path");
        return p;
    }();
    return path;
}

std::int64_t FusedWeight::packed_bytes() const
{
    switch (format) {
    case FusedFormat::Int8Row:
        return rows * cols + rows * 4;
    case FusedFormat::IntGroup: {
        // The rows layout's padding is read too (with the codes' stream), so it counts.
        const std::int64_t g = rows * groups_per_row();
        if (scales_rows())
            return rows * code_stride + (zeros_f ? g * 4 : 0);
        return rows * int_group_row_bytes(bits, cols) + g * 4
            + (zeros_f ? g * 4 : zeros_u8 ? g : 0);
    }
    case FusedFormat::Blockwise4: {
        const std::int64_t blocks = (rows * cols + block_size - 1) / block_size;
        const std::int64_t scaleBytes = absmax ? 0 : 4 * ((blocks + dq_block_size - 1) / dq_block_size);
        if (absmax_rows()) // the rows layout, padding included (read with the codes' stream)
            return rows * code_stride + scaleBytes;
        return (rows * cols + 1) / 2 + (absmax ? blocks * 4 : blocks) + scaleBytes;
    }
    }
    return 0;
}

FusedWeight fused_weight_int8_row(const std::int8_t *q, const float *scales, std::int64_t rows,
                                  std::int64_t cols, const float *bias)
{
    FusedWeight w;
    w.format = FusedFormat::Int8Row;
    w.rows = rows;
    w.cols = cols;
    w.codes = q;
    w.scales = scales;
    w.bias = bias;
    w.bits = 8;
    return w;
}

FusedWeight fused_weight_int_group(const std::uint8_t *packed, const float *scales,
                                   const std::uint8_t *zeros_u8, const float *zeros_f, int bits,
                                   std::int64_t group_size, std::int64_t rows, std::int64_t cols,
                                   const float *bias)
{
    if (bits != 2 && bits != 3 && bits != 4 && bits != 8)
        throw std::invalid_argument("fused_weight_int_group: bits must be 2, 3, 4 or 8");
    FusedWeight w;
    w.format = FusedFormat::IntGroup;
    w.rows = rows;
    w.cols = cols;
    w.codes = packed;
    w.scales = scales;
    w.zeros_u8 = zeros_u8;
    w.zeros_f = zeros_f;
    w.bits = bits;
    w.group = (group_size <= 0 || group_size >= cols) ? cols : group_size;
    w.bias = bias;
    w.code_stride = int_group_row_bytes(bits, cols);
    w.scale_stride = w.zero_stride = w.groups_per_row();
    return w;
}

namespace {

// bytes rounded up to whole 64-byte cache lines (the rows layouts' padding)
std::int64_t whole_lines(std::int64_t bytes) { return (bytes + 63) / 64 * 64; }

} // namespace

IntGroupRows int_group_rows(int bits, std::int64_t groups, std::int64_t cols, bool zeros)
{
    IntGroupRows l;
    l.groups = groups;
    l.zeros = zeros;
    l.zero_offset = groups * 4;
    l.code_offset = whole_lines(groups * 4 + (zeros ? groups : 0));
    l.row_bytes = l.code_offset + whole_lines(int_group_row_bytes(bits, cols));
    return l;
}

void pack_int_group_rows(const IntGroupRows &layout, const std::uint8_t *packed,
                         const float *scales, const std::uint8_t *zeros_u8, int bits,
                         std::int64_t rows, std::int64_t cols, std::uint8_t *out)
{
    const std::int64_t codeBytes = int_group_row_bytes(bits, cols), g = layout.groups;
    for (std::int64_t r = 0; r < rows; ++r) {
        std::uint8_t *row = out + r * layout.row_bytes;
        std::memset(row, 0, static_cast<std::size_t>(layout.row_bytes));
        std::memcpy(row, scales + r * g, static_cast<std::size_t>(g * 4));
        if (layout.zeros)
            std::memcpy(row + layout.zero_offset, zeros_u8 + r * g, static_cast<std::size_t>(g));
        std::memcpy(row + layout.code_offset, packed + r * codeBytes,
                    static_cast<std::size_t>(codeBytes));
    }
}

FusedWeight fused_weight_int_group_rows(const std::uint8_t *buffer, const IntGroupRows &layout,
                                        const float *zeros_f, int bits, std::int64_t group_size,
                                        std::int64_t rows, std::int64_t cols, const float *bias)
{
    if (layout.row_bytes % 64 != 0 || layout.code_offset % 64 != 0)
        throw std::invalid_argument("fused_weight_int_group_rows: rows must be whole cache lines");
    FusedWeight w = fused_weight_int_group(
        buffer + layout.code_offset, reinterpret_cast<const float *>(buffer),
        layout.zeros ? buffer + layout.zero_offset : nullptr, zeros_f, bits, group_size, rows,
        cols, bias);
    if (w.groups_per_row() != layout.groups)
        throw std::invalid_argument("fused_weight_int_group_rows: layout made for another group");
    w.code_stride = w.zero_stride = layout.row_bytes;
    w.scale_stride = layout.row_bytes / 4;
    return w;
}

FusedWeight fused_weight_blockwise4(Codebook4 kind, const std::uint8_t *packed,
                                    const float *absmax, const std::uint8_t *absmax_codes,
                                    const float *absmax_scales, float absmax_offset,
                                    int block_size, std::int64_t rows, std::int64_t cols,
                                    const float *bias)
{
    if (block_size < 2)
        throw std::invalid_argument("fused_weight_blockwise4: block_size must be >= 2");
    FusedWeight w;
    w.format = FusedFormat::Blockwise4;
    w.rows = rows;
    w.cols = cols;
    w.codes = packed;
    w.codebook = codebook4_values(kind);
    w.block_size = block_size;
    w.absmax = absmax;
    w.absmax_codes = absmax_codes;
    w.absmax_scales = absmax_scales;
    w.absmax_offset = absmax_offset;
    w.dq_block_size = 256;
    w.dq_map = dynamic_map_signed();
    w.bias = bias;
    w.bits = 4;
    if (cols % block_size == 0 && cols % 2 == 0) { // blocks tile the rows
        w.code_stride = cols / 2;
        w.absmax_stride = cols / block_size;
    }
    return w;
}

Blockwise4Rows blockwise4_rows(int block_size, std::int64_t cols, bool double_quant)
{
    if (block_size < 2 || block_size % 2 != 0 || cols % block_size != 0)
        throw std::invalid_argument("blockwise4_rows: blocks must be even and tile the rows");
    Blockwise4Rows l;
    l.blocks = cols / block_size;
    l.codes = double_quant;
    l.code_offset = whole_lines(l.blocks * (double_quant ? 1 : 4));
    l.row_bytes = l.code_offset + whole_lines(cols / 2);
    return l;
}

void pack_blockwise4_rows(const Blockwise4Rows &layout, const std::uint8_t *packed,
                          const float *absmax, const std::uint8_t *absmax_codes,
                          std::int64_t rows, std::int64_t cols, std::uint8_t *out)
{
    const std::int64_t b = layout.blocks;
    for (std::int64_t r = 0; r < rows; ++r) {
        std::uint8_t *row = out + r * layout.row_bytes;
        std::memset(row, 0, static_cast<std::size_t>(layout.row_bytes));
        if (layout.codes)
            std::memcpy(row, absmax_codes + r * b, static_cast<std::size_t>(b));
        else
            std::memcpy(row, absmax + r * b, static_cast<std::size_t>(b * 4));
        std::memcpy(row + layout.code_offset, packed + r * cols / 2,
                    static_cast<std::size_t>(cols / 2));
    }
}

FusedWeight fused_weight_blockwise4_rows(Codebook4 kind, const std::uint8_t *buffer,
                                         const Blockwise4Rows &layout, const float *absmax_scales,
                                         float absmax_offset, int block_size, std::int64_t rows,
                                         std::int64_t cols, const float *bias)
{
    if (layout.row_bytes % 64 != 0 || layout.code_offset % 64 != 0
        || layout.blocks * block_size != cols)
        throw std::invalid_argument("fused_weight_blockwise4_rows: layout made for another shape");
    FusedWeight w = fused_weight_blockwise4(
        kind, buffer + layout.code_offset,
        layout.codes ? nullptr : reinterpret_cast<const float *>(buffer),
        layout.codes ? buffer : nullptr, absmax_scales, absmax_offset, block_size, rows, cols,
        bias);
    w.code_stride = layout.row_bytes;
    w.absmax_stride = layout.codes ? layout.row_bytes : layout.row_bytes / 4;
    return w;
}

FusedOrder fused_input_order(const FusedWeight &w, KernelPath path)
{
    if (path != KernelPath::Avx512 && path != KernelPath::Avx2)
        return FusedOrder::None;
    if (fused_detail::uses_nibbles(w))
        return FusedOrder::Nibbles;
    if (fused_detail::quad_groups(w, path == KernelPath::Avx512 ? 64 : 32))
        return FusedOrder::Quads;
    return FusedOrder::None;
}

FusedInput fused_prepare_input(const FusedWeight &w, const float *x, std::int64_t m,
                               KernelPath path)
{
    FusedInput in;
    in.x = x;
    in.m = m;
    in.cols = w.cols;
    in.path = path;
    in.order = fused_input_order(w, path);
    if (in.order == FusedOrder::None)
        return in;
    // Chunks of `lanes` x `stride` columns: column stride · i + s at lanes · s + i.
    const std::int64_t stride = in.order == FusedOrder::Quads ? 4 : 2;
    const std::int64_t lanes = path == KernelPath::Avx512 ? 16 : 8;
    const std::int64_t cols = w.cols, chunk = lanes * stride;
    in.ordered.resize(static_cast<std::size_t>(m * cols));
    for (std::int64_t i = 0; i < m; ++i) {
        const float *src = x + i * cols;
        float *dst = in.ordered.data() + i * cols;
        std::int64_t c = 0;
        for (; c + chunk <= cols; c += chunk)
            for (std::int64_t s = 0; s < stride; ++s)
                for (std::int64_t k = 0; k < lanes; ++k)
                    dst[c + lanes * s + k] = src[c + stride * k + s];
        std::copy(src + c, src + cols, dst + c);
    }
    return in;
}

void fused_linear_ref(const FusedWeight &w, const float *x, std::int64_t m, float *y,
                      std::int64_t row_begin, std::int64_t row_end)
{
    for (std::int64_t r = row_begin; r < row_end; ++r)
        for (std::int64_t i = 0; i < m; ++i) {
            double sum = 0.0;
            for (std::int64_t c = 0; c < w.cols; ++c) {
                const int code = code_at(w, r, c);
                float value = 0.0f;
                switch (w.format) {
                case FusedFormat::Int8Row:
                    value = static_cast<float>(code) * w.scales[r];
                    break;
                case FusedFormat::IntGroup: {
                    const std::int64_t g = c / w.group;
                    value = (static_cast<float>(code) - w.group_zero(r, g)) * w.row_scales(r)[g];
                    break;
                }
                case FusedFormat::Blockwise4:
                    value = w.codebook[code] * block_absmax(w, (r * w.cols + c) / w.block_size);
                    break;
                }
                sum += static_cast<double>(x[i * w.cols + c]) * value;
            }
            if (w.bias)
                sum += w.bias[r];
            y[i * w.rows + r] = static_cast<float>(sum);
        }
}

namespace fused_detail {

void fused_linear_portable(const FusedWeight &w, const FusedInput &in, float *y,
                           std::int64_t row_begin, std::int64_t row_end)
{
    std::vector<float> row(static_cast<std::size_t>(w.cols));
    for (std::int64_t r = row_begin; r < row_end; ++r) {
        SegmentCursor cursor(w, r);
        Segment s;
        while (cursor.next(s))
            for (std::int64_t c = s.begin; c < s.end; ++c)
                row[c] = segment_value(w, code_at(w, r, c), s.scale, s.zero);
        for (std::int64_t i = 0; i < in.m; ++i) {
            const float *x = in.x + i * w.cols;
            // Eight independent partial sums: the compiler can keep them in vector lanes.
            float part[8] = {};
            std::int64_t c = 0;
            for (; c + 8 <= w.cols; c += 8)
                for (int k = 0; k < 8; ++k)
                    part[k] += x[c + k] * row[c + k];
            float sum = 0.0f;
            for (; c < w.cols; ++c)
                sum += x[c] * row[c];
            for (int k = 0; k < 8; ++k)
                sum += part[k];
            y[i * w.rows + r] = finish(w, r, sum);
        }
    }
}

} // namespace fused_detail

void fused_linear(const FusedWeight &w, const FusedInput &in, float *y, std::int64_t row_begin,
                  std::int64_t row_end)
{
    if (in.cols != w.cols || in.order != fused_input_order(w, in.path))
        throw std::invalid_argument("fused_linear: input prepared for another weight (" +
                                    std::to_string(in.cols) + " columns for " +
                                    std::to_string(w.cols) + ", or another code width)");
    switch (in.path) {
    case KernelPath::Scalar:
        fused_linear_ref(w, in.x, in.m, y, row_begin, row_end);
        return;
    case KernelPath::Portable:
        fused_linear_portable(w, in, y, row_begin, row_end);
        return;
#if defined(__x86_64__) || defined(__i386__)
    case KernelPath::Avx2:
        fused_linear_avx2(w, in, y, row_begin, row_end);
        return;
    case KernelPath::Avx512:
        fused_linear_avx512(w, in, y, row_begin, row_end);
        return;
#else
    default:
        throw std::invalid_argument("fused_linear: SIMD paths exist only on x86");
#endif
    }
}

} // namespace qb::kernels
