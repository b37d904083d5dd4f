// Fused dequantize-GEMV / small-batch GEMM: y[m, out] = x[m, in] · Wᵀ (+ bias) straight from the
// packed weights, each packed byte read once per call (per tile of up to 4 activation rows it is
// decoded in registers, never written out as float32).
//
// Formats (the stored layouts of core/quant, unchanged; see the headers named):
//   Int8Row     codes [out, in] int8, scales [out] float32: w = q · s            (int8_rowwise.h)
//   IntGroup    k = 2, 3, 4, 8 bit-stream rows [out, ceil(in k / 8)] uint8, MSB first, scales
//               [out, G] float32 and the zero point of each group, in this order of precedence:
//               zeros_f [out, G] float32 (real zero points of a QA-LoRA merge), qzeros [out, G]
//               uint8 (asymmetric), 2^(k-1) (symmetric): w = (code - zero) · s   (int_group.h)
//               Row r's codes, scales and qzeros start at code_stride, scale_stride and
//               zero_stride times r: the dense arrays above, or the rows layout that core
//               repacks them into at load (IntGroupRows: each row's scales and zero points
//               right before its codes, one sequential stream; zeros_f stays [out, G]).
//   Blockwise4  NF4/FP4 nibbles of the flattened [out · in] weight, first element in the high
//               nibble; absmax per block of B flattened values, float32 or double-quantized
//               (uint8 codes into the dynamic map, float32 scale per 256 codes, one offset):
//               w = book[code] · absmax                                (nf4.h, double_quant.h)
//               Where blocks tile the rows (cols % B == 0), row r's nibbles and absmax (floats
//               or codes) start at code_stride bytes and absmax_stride entries times r: the
//               flattened arrays, or the rows layout (Blockwise4Rows: each row's absmax right
//               before its nibbles); the second-level scales stay flattened (block b's is
//               absmax_scales[b / 256]). Blocks that span rows: flattened only (strides 0).
// Within a group/block every path decodes a weight to the same float32 as the dequantize
// reference of its format (4-bit through a 16-entry table (code - zero) · s or book · absmax
// built once per group); Int8Row applies its row scale after the row's dot product.
// Only the order of the float32 sums differs between paths.
//
// Paths (KernelPath): Scalar (the reference: one weight at a time, double accumulation),
// Portable (plain C++, one decoded row in a buffer, any x86-64 or other CPU), Avx2 (AVX2 + FMA)
// and Avx512 (AVX-512 F/BW/VL); the SIMD paths are compiled with function target attributes so
// the library runs on any x86-64 and picks the best path the CPU has at run time. The
// environment variable QB_KERNEL_PATH=scalar|portable|avx2|avx512 forces one.
// 4-bit SIMD chunks read 32 (AVX-512) or 16 (AVX2) nibbles with one load and take the high and
// low nibbles as two vectors; 2- and 3-bit INT groups are read 64 (32) codes at a time, four
// codes a lane, as four vectors; instead of reordering the weights (the format is unchanged),
// the activations are reordered to match, once per call (FusedInput).
//
// Threads: none here. The caller splits the output rows [row_begin, row_end) over its own
// threads (core uses util/parallel.h); concurrent calls on disjoint row ranges of one y
// are safe.
//
// Check: tst_kernels_fused_linear (every format, group/block size, odd shape and path against
// fused_linear_ref). Benchmark: quantbench-cli bench kernels.
#pragma once

#include "kernels/nf4.h"

#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

namespace qb::kernels {

enum class KernelPath { Scalar, Portable, Avx2, Avx512 };

const char *kernel_path_name(KernelPath path);
// Parses "scalar", "portable", "avx2", "avx512"; false for anything else.
bool parse_kernel_path(const char *name, KernelPath *path);
// Whether this CPU can run the path (Scalar and Portable: always).
bool kernel_path_supported(KernelPath path);
// The fastest path this CPU supports.
KernelPath best_kernel_path();
// QB_KERNEL_PATH when set, else best_kernel_path(). Throws std::invalid_argument naming the
// variable when it holds an unknown name or a path this CPU lacks. Read once per process.
KernelPath active_kernel_path();

enum class FusedFormat { Int8Row, IntGroup, Blockwise4 };

// A packed weight [rows = out, cols = in]; pointers are borrowed, not owned.
struct FusedWeight
{
    FusedFormat format = FusedFormat::Int8Row;
    std::int64_t rows = 0, cols = 0;
    const void *codes = nullptr;     // int8 [rows, cols] | packed rows | nibbles (see above)
    const float *scales = nullptr;   // Int8Row [rows]; IntGroup [rows, G]
    const float *bias = nullptr;     // [rows] or nullptr
    // IntGroup
    int bits = 4;
    std::int64_t group = 0;          // effective group length (cols when per channel)
    const std::uint8_t *zeros_u8 = nullptr;
    const float *zeros_f = nullptr;
    // Blockwise4
    const float *codebook = nullptr; // 16 values (codebook4_values)
    int block_size = 64;
    const float *absmax = nullptr;   // [blocks], or nullptr with the double-quantized form:
    const std::uint8_t *absmax_codes = nullptr;
    const float *absmax_scales = nullptr;
    float absmax_offset = 0.0f;
    int dq_block_size = 256;
    const float *dq_map = nullptr;   // 256 values (dynamic_map_signed)

    // Row strides (bytes for codes and qzeros, floats for scales, entries of absmax or
    // absmax_codes); the constructors set them (Blockwise4: 0 where blocks span rows).
    std::int64_t code_stride = 0, scale_stride = 0, zero_stride = 0, absmax_stride = 0;

    std::int64_t groups_per_row() const { return group > 0 ? (cols + group - 1) / group : 0; }
    const std::uint8_t *row_codes(std::int64_t r) const
    {
        return static_cast<const std::uint8_t *>(codes) + r * code_stride;
    }
    const float *row_scales(std::int64_t r) const { return scales + r * scale_stride; }
    const std::uint8_t *row_zeros(std::int64_t r) const
    {
        return zeros_u8 ? zeros_u8 + r * zero_stride : nullptr;
    }
    const float *row_zeros_f(std::int64_t r) const
    {
        return zeros_f ? zeros_f + r * groups_per_row() : nullptr;
    }
    // IntGroup in the rows layout (IntGroupRows), where row r's scales do not follow row r - 1's.
    bool scales_rows() const { return scale_stride != groups_per_row(); }
    // Blockwise4 in the rows layout (Blockwise4Rows), where row r's entries do not follow row
    // r - 1's.
    bool absmax_rows() const { return absmax_stride != 0 && absmax_stride != cols / block_size; }
    // Where flattened block b's absmax (or code) is: b itself, or in the rows layout row
    // b / blocks-per-row's entry.
    std::int64_t absmax_index(std::int64_t b) const
    {
        if (!absmax_rows())
            return b;
        const std::int64_t perRow = cols / block_size, r = b / perRow;
        return r * absmax_stride + (b - r * perRow);
    }
    // Zero point of row r's group g (zeros_f, qzeros or 2^(bits-1), as the formats above).
    float group_zero(std::int64_t r, std::int64_t g) const
    {
        return zeros_f    ? row_zeros_f(r)[g]
               : zeros_u8 ? static_cast<float>(row_zeros(r)[g])
                          : static_cast<float>(1 << (bits - 1));
    }
    // Bytes a call reads from the weight (codes, scales, zero points, absmax; bias excluded).
    std::int64_t packed_bytes() const;
};

FusedWeight fused_weight_int8_row(const std::int8_t *q, const float *scales, std::int64_t rows,
                                  std::int64_t cols, const float *bias);
// group_size: 0 or >= cols for per channel. zeros_u8 / zeros_f may be nullptr (see above).
FusedWeight fused_weight_int_group(const std::uint8_t *packed, const float *scales,
                                   const std::uint8_t *zeros_u8, const float *zeros_f, int bits,
                                   std::int64_t group_size, std::int64_t rows, std::int64_t cols,
                                   const float *bias);

// The rows layout of IntGroup weights: row r at r · row_bytes holds its G float32 scales, then
// (asymmetric) its G uint8 zero points, zero padding to a 64-byte boundary (code_offset), then
// its packed codes, zero padding to the next 64 bytes. The kernels stream one row after the
// other: with the scales and zero points in arrays of their own, two more streams ran beside the
// codes and the hardware prefetchers kept fewer lines in flight (2-core VM, INT4 g128 GEMV over
// 128 MiB: 0.64-0.74 of the streaming read rate against 0.82-0.99 in this layout;
// docs/kernels.md). Core repacks at load; checkpoints keep the dense tensors.
struct IntGroupRows
{
    std::int64_t groups = 0, zero_offset = 0, code_offset = 0, row_bytes = 0;
    bool zeros = false;
};
IntGroupRows int_group_rows(int bits, std::int64_t groups, std::int64_t cols, bool zeros);
// Writes rows [0, rows) of the dense arrays (zeros_u8 may be nullptr when !layout.zeros) into
// out (rows · layout.row_bytes bytes, padding zeroed).
void pack_int_group_rows(const IntGroupRows &layout, const std::uint8_t *packed,
                         const float *scales, const std::uint8_t *zeros_u8, int bits,
                         std::int64_t rows, std::int64_t cols, std::uint8_t *out);
// A weight over a buffer in that layout.
FusedWeight fused_weight_int_group_rows(const std::uint8_t *buffer, const IntGroupRows &layout,
                                        const float *zeros_f, int bits, std::int64_t group_size,
                                        std::int64_t rows, std::int64_t cols, const float *bias);

// The rows layout of Blockwise4 weights whose blocks tile the rows: row r at r · row_bytes holds
// its cols / B absmax entries (uint8 codes when double-quantized, else float32), zero padding to a
// 64-byte boundary (code_offset), its cols / 2 bytes of nibbles, zero padding to 64 bytes. The
// second-level scales and offset stay apart (one float per 256 blocks). Why: IntGroupRows.
struct Blockwise4Rows
{
    std::int64_t blocks = 0, code_offset = 0, row_bytes = 0;
    bool codes = false; // double-quantized: uint8 codes; else float32 absmax
};
Blockwise4Rows blockwise4_rows(int block_size, std::int64_t cols, bool double_quant);
// Writes rows [0, rows) of the flattened arrays (absmax or absmax_codes, whichever the layout
// holds) into out (rows · layout.row_bytes bytes, padding zeroed).
void pack_blockwise4_rows(const Blockwise4Rows &layout, const std::uint8_t *packed,
                          const float *absmax, const std::uint8_t *absmax_codes,
                          std::int64_t rows, std::int64_t cols, std::uint8_t *out);
FusedWeight fused_weight_blockwise4_rows(Codebook4 kind, const std::uint8_t *buffer,
                                         const Blockwise4Rows &layout, const float *absmax_scales,
                                         float absmax_offset, int block_size, std::int64_t rows,
                                         std::int64_t cols, const float *bias);

// absmax: float32 per block, or nullptr and the double-quantized triple.
FusedWeight fused_weight_blockwise4(Codebook4 kind, const std::uint8_t *packed,
                                    const float *absmax, const std::uint8_t *absmax_codes,
                                    const float *absmax_scales, float absmax_offset,
                                    int block_size, std::int64_t rows, std::int64_t cols,
                                    const float *bias);

// std::vector storage on 64-byte boundaries: the kernels read prepared activations 64 bytes at a
// time, and a load across two cache lines costs two (int8-activation INT4 g128, one thread,
// 128x4096 in cache: 6.8 us with malloc's 16-byte alignment, 4.8 with 64).
template <class T> struct CacheLineAllocator
{
    using value_type = T;
    CacheLineAllocator() = default;
    template <class U> CacheLineAllocator(const CacheLineAllocator<U> &) {}
    T *allocate(std::size_t n)
    {
        return static_cast<T *>(::operator new(n * sizeof(T), std::align_val_t(64)));
    }
    void deallocate(T *p, std::size_t) { ::operator delete(p, std::align_val_t(64)); }
    bool operator==(const CacheLineAllocator &) const { return true; }
    bool operator!=(const CacheLineAllocator &) const { return false; }
};
template <class T> using CacheLineVector = std::vector<T, CacheLineAllocator<T>>;

// How FusedInput::ordered holds the activations, chosen by fused_prepare_input for the weight
// and path so that a chunk of packed codes meets its activations in consecutive lanes:
// - Nibbles (4-bit codes, AVX-512 and AVX2): per 32- (16-) column chunk [even columns, odd
//   columns], a chunk's high nibbles being its even columns;
// - Quads (2- and 3-bit INT groups of a multiple of 64 (AVX-512) or 32 (AVX2) columns that tile
//   the row): per 64- or 32-column chunk of L · 4 columns, column 4i + s at L · s + i, lane i of
//   the kernel holding codes 4i .. 4i + 3 of the chunk;
// - None: no reordered copy (INT8, other groups, the scalar and portable paths).
// Columns past the last whole chunk keep their place.
enum class FusedOrder { None, Nibbles, Quads };
FusedOrder fused_input_order(const FusedWeight &w, KernelPath path);

// The activations prepared for one weight and path: x [m, cols] float32 row-major (borrowed) and
// the reordered copy `order` asks for.
struct FusedInput
{
    const float *x = nullptr;
    std::int64_t m = 0, cols = 0;
    KernelPath path = KernelPath::Scalar;
    FusedOrder order = FusedOrder::None;
    CacheLineVector<float> ordered; // [m, cols], empty when order is None
};
// x [m, w.cols] for w on path.
FusedInput fused_prepare_input(const FusedWeight &w, const float *x, std::int64_t m,
                               KernelPath path);

// Scalar reference: y[i, r] for r in [row_begin, row_end), all i < m; y is [m, w.rows].
void fused_linear_ref(const FusedWeight &w, const float *x, std::int64_t m, float *y,
                      std::int64_t row_begin, std::int64_t row_end);
// The path of `in` (Scalar runs fused_linear_ref). Same contract as the reference. Throws
// std::invalid_argument when `in` was prepared for a weight of another width or order.
void fused_linear(const FusedWeight &w, const FusedInput &in, float *y, std::int64_t row_begin,
                  std::int64_t row_end);

} // namespace qb::kernels
