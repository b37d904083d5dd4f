// CUDA fused dequantize-GEMV/GEMM for the formats of fused_linear.h (see cuda_gemv.h): one warp
// per output row, each lane decoding columns lane, lane + 32, ... of that row exactly as the
// dequantize reference does and accumulating x · w for every activation row, then a shuffle
// reduction. Check: tst_kernels_cuda_gemv on a machine with a GPU.
#include "kernels/cuda_gemv.h"
#include "kernels/cuda_support.cuh"

#include "kernels/int_group.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <vector>

namespace qb::kernels {
namespace {

using namespace cuda_detail;

constexpr int kWarpsPerBlock = 4;
constexpr int kMaxRows = 16; // activation rows per launch (larger m runs in slices)

struct Tables
{
    float book[16];
    float dq_map[256];
};

// The device view of a FusedWeight (its arrays on the device).
struct DeviceWeight
{
    int format;
    std::int64_t rows, cols;
    const void *codes;
    const float *scales, *bias;
    int bits;
    std::int64_t group, groups, row_bytes, code_stride, scale_stride, zero_stride, absmax_stride;
    const std::uint8_t *zeros_u8;
    const float *zeros_f;
    int block_size;
    const float *absmax;
    const std::uint8_t *absmax_codes;
    const float *absmax_scales;
    float absmax_offset;
    int dq_block_size;
};

// The decoded weight of column c of row r; INT8 rows give the raw code (the row scale comes
// after the sum, as in the CPU paths).
__device__ float decode(const DeviceWeight &w, const Tables &t, std::int64_t r, std::int64_t c)
{
    if (w.format == static_cast<int>(FusedFormat::Int8Row))
        return static_cast<float>(static_cast<const std::int8_t *>(w.codes)[r * w.cols + c]);
    if (w.format == static_cast<int>(FusedFormat::IntGroup)) {
        const auto *row = static_cast<const std::uint8_t *>(w.codes) + r * w.code_stride;
        const std::int64_t bit = c * w.bits;
        const std::int64_t byte = bit >> 3;
        const unsigned window = (static_cast<unsigned>(row[byte]) << 8)
            | (byte + 1 < w.row_bytes ? row[byte + 1] : 0u);
        const int code = static_cast<int>((window >> (16 - (bit & 7) - w.bits))
                                          & ((1u << w.bits) - 1));
        const std::int64_t g = c / w.group;
        const float zero = w.zeros_f    ? w.zeros_f[r * w.groups + g]
                           : w.zeros_u8 ? static_cast<float>(w.zeros_u8[r * w.zero_stride + g])
                                        : static_cast<float>(1 << (w.bits - 1));
        return __fmul_rn(__fsub_rn(static_cast<float>(code), zero),
                         w.scales[r * w.scale_stride + g]);
    }
    // Blockwise4: by row where the weight has row strides (rows layout or tiling blocks), else
    // flattened; the second-level scales always by flattened block.
    const std::int64_t i = r * w.cols + c;
    const std::int64_t b = i / w.block_size;
    const std::uint8_t byte = w.code_stride
        ? static_cast<const std::uint8_t *>(w.codes)[r * w.code_stride + (c >> 1)]
        : static_cast<const std::uint8_t *>(w.codes)[i >> 1];
    const int code = (i & 1) ? (byte & 0x0F) : (byte >> 4);
    const std::int64_t at = w.absmax_stride ? r * w.absmax_stride + c / w.block_size : b;
    float absmax;
    if (w.absmax) {
        absmax = w.absmax[at];
    } else {
        absmax = __fmul_rn(t.dq_map[w.absmax_codes[at]], w.absmax_scales[b / w.dq_block_size]);
        absmax = __fadd_rn(absmax, w.absmax_offset);
    }
    return __fmul_rn(t.book[code], absmax);
}

__global__ void fused_linear_kernel(DeviceWeight w, Tables t, const float *__restrict__ x,
                                    std::int64_t m, float *__restrict__ y)
{
    const int lane = threadIdx.x & 31;
    const std::int64_t r = static_cast<std::int64_t>(blockIdx.x) * kWarpsPerBlock
        + (threadIdx.x >> 5);
    if (r >= w.rows)
        return;
    float acc[kMaxRows];
    for (int i = 0; i < kMaxRows; ++i)
        acc[i] = 0.0f;
    for (std::int64_t c = lane; c < w.cols; c += 32) {
        const float v = decode(w, t, r, c);
        for (int i = 0; i < kMaxRows; ++i)
            if (i < m)
                acc[i] = __fmaf_rn(x[i * w.cols + c], v, acc[i]);
    }
    for (int i = 0; i < kMaxRows; ++i) {
        if (i >= m)
            break;
        float s = acc[i];
        for (int offset = 16; offset > 0; offset >>= 1)
            s += __shfl_down_sync(0xffffffffu, s, offset);
        if (lane == 0) {
            if (w.format == static_cast<int>(FusedFormat::Int8Row))
                s *= w.scales[r];
            y[i * w.rows + r] = w.bias ? s + w.bias[r] : s;
        }
    }
}

DeviceWeight device_view(const FusedWeight &w)
{
    DeviceWeight d{};
    d.format = static_cast<int>(w.format);
    d.rows = w.rows;
    d.cols = w.cols;
    d.codes = w.codes;
    d.scales = w.scales;
    d.bias = w.bias;
    d.bits = w.bits;
    d.group = w.group > 0 ? w.group : w.cols;
    d.groups = w.groups_per_row();
    d.row_bytes = (w.cols * w.bits + 7) / 8;
    d.code_stride = w.code_stride;
    d.scale_stride = w.scale_stride;
    d.zero_stride = w.zero_stride;
    d.absmax_stride = w.absmax_stride;
    d.zeros_u8 = w.zeros_u8;
    d.zeros_f = w.zeros_f;
    d.block_size = w.block_size;
    d.absmax = w.absmax;
    d.absmax_codes = w.absmax_codes;
    d.absmax_scales = w.absmax_scales;
    d.absmax_offset = w.absmax_offset;
    d.dq_block_size = w.dq_block_size;
    return d;
}

Tables tables_of(const FusedWeight &w)
{
    Tables t{};
    if (w.codebook)
        std::copy(w.codebook, w.codebook + 16, t.book);
    if (w.dq_map)
        std::copy(w.dq_map, w.dq_map + 256, t.dq_map);
    return t;
}

} // namespace

CudaStatus cuda_fused_linear_device(const FusedWeight &w, const float *x, std::int64_t m,
                                    float *y, void *stream)
{
    if (w.rows <= 0 || w.cols <= 0 || m <= 0)
        return {};
    const DeviceWeight d = device_view(w);
    const Tables t = tables_of(w);
    const unsigned blocks = static_cast<unsigned>((w.rows + kWarpsPerBlock - 1) / kWarpsPerBlock);
    for (std::int64_t i0 = 0; i0 < m; i0 += kMaxRows) {
        fused_linear_kernel<<<blocks, 32 * kWarpsPerBlock, 0, static_cast<cudaStream_t>(stream)>>>(
            d, t, x + i0 * w.cols, std::min<std::int64_t>(kMaxRows, m - i0), y + i0 * w.rows);
        const CudaStatus s = status_of(cudaGetLastError(), "fused_linear_kernel launch");
        if (!s.ok())
            return s;
    }
    return {};
}

CudaStatus cuda_fused_linear_host(const FusedWeight &w_in, const float *x, std::int64_t m,
                                  float *y)
{
    // Weights in a rows layout (IntGroupRows, Blockwise4Rows) go up as the dense arrays.
    std::vector<std::uint8_t> denseCodes, denseZeros;
    std::vector<float> denseScales;
    FusedWeight w = w_in;
    if (w.format == FusedFormat::IntGroup && w.scales_rows()) { // IntGroupRows
        const std::int64_t G = w.groups_per_row(), bytes = int_group_row_bytes(w.bits, w.cols);
        denseCodes.resize(static_cast<std::size_t>(w.rows * bytes));
        denseScales.resize(static_cast<std::size_t>(w.rows * G));
        if (w.zeros_u8)
            denseZeros.resize(static_cast<std::size_t>(w.rows * G));
        for (std::int64_t r = 0; r < w.rows; ++r) {
            std::copy(w.row_codes(r), w.row_codes(r) + bytes, denseCodes.begin() + r * bytes);
            std::copy(w.row_scales(r), w.row_scales(r) + G, denseScales.begin() + r * G);
            if (w.zeros_u8)
                std::copy(w.row_zeros(r), w.row_zeros(r) + G, denseZeros.begin() + r * G);
        }
        w = fused_weight_int_group(denseCodes.data(), denseScales.data(),
                                   w.zeros_u8 ? denseZeros.data() : nullptr, w.zeros_f, w.bits,
                                   w.group, w.rows, w.cols, w.bias);
    } else if (w.format == FusedFormat::Blockwise4 && w.absmax_rows()) {
        const std::int64_t half = w.cols / 2, perRow = w.cols / w.block_size;
        denseCodes.resize(static_cast<std::size_t>(w.rows * half));
        if (w.absmax)
            denseScales.resize(static_cast<std::size_t>(w.rows * perRow));
        else
            denseZeros.resize(static_cast<std::size_t>(w.rows * perRow)); // the absmax codes
        for (std::int64_t r = 0; r < w.rows; ++r) {
            std::copy(w.row_codes(r), w.row_codes(r) + half, denseCodes.begin() + r * half);
            const std::int64_t at = w.absmax_index(r * perRow);
            if (w.absmax)
                std::copy(w.absmax + at, w.absmax + at + perRow, denseScales.begin() + r * perRow);
            else
                std::copy(w.absmax_codes + at, w.absmax_codes + at + perRow,
                          denseZeros.begin() + r * perRow);
        }
        const Codebook4 kind
            = w.codebook == codebook4_values(Codebook4::Nf4) ? Codebook4::Nf4 : Codebook4::Fp4;
        w = fused_weight_blockwise4(kind, denseCodes.data(), w.absmax ? denseScales.data() : nullptr,
                                    w.absmax ? nullptr : denseZeros.data(), w.absmax_scales,
                                    w.absmax_offset, w.block_size, w.rows, w.cols, w.bias);
    }
    const std::size_t rows = static_cast<std::size_t>(w.rows);
    const std::size_t groups = rows * static_cast<std::size_t>(w.groups_per_row());
    const std::size_t n = rows * static_cast<std::size_t>(w.cols);
    const std::size_t blocks = w.block_size > 0 ? (n + w.block_size - 1) / w.block_size : 0;
    std::size_t codeBytes = n;
    if (w.format == FusedFormat::IntGroup)
        codeBytes = rows * static_cast<std::size_t>((w.cols * w.bits + 7) / 8);
    else if (w.format == FusedFormat::Blockwise4)
        codeBytes = (n + 1) / 2;

    DeviceBuffer dCodes, dScales, dBias, dZerosU8, dZerosF, dAbsmax, dAbsmaxCodes,
        dAbsmaxScales, dX;
    FusedWeight dw = w;
    CudaStatus s = upload(dCodes, w.codes, codeBytes);
    dw.codes = dCodes.as<void>();
    auto optional = [&](DeviceBuffer &buf, const void *src, std::size_t bytes, auto &field) {
        if (!s.ok() || !src)
            return;
        s = upload(buf, src, bytes);
        field = buf.as<std::remove_const_t<std::remove_pointer_t<
            std::remove_reference_t<decltype(field)>>>>();
    };
    if (w.format == FusedFormat::Int8Row)
        optional(dScales, w.scales, rows * sizeof(float), dw.scales);
    else if (w.format == FusedFormat::IntGroup)
        optional(dScales, w.scales, groups * sizeof(float), dw.scales);
    optional(dBias, w.bias, rows * sizeof(float), dw.bias);
    optional(dZerosU8, w.zeros_u8, groups, dw.zeros_u8);
    optional(dZerosF, w.zeros_f, groups * sizeof(float), dw.zeros_f);
    optional(dAbsmax, w.absmax, blocks * sizeof(float), dw.absmax);
    optional(dAbsmaxCodes, w.absmax_codes, blocks, dw.absmax_codes);
    if (w.absmax_codes && w.dq_block_size > 0)
        optional(dAbsmaxScales, w.absmax_scales,
                 (blocks + w.dq_block_size - 1) / w.dq_block_size * sizeof(float),
                 dw.absmax_scales);
    if (s.ok())
        s = upload(dX, x, static_cast<std::size_t>(m * w.cols) * sizeof(float));
    if (!s.ok())
        return s;
    return run_to_host(static_cast<std::size_t>(m) * rows * sizeof(float), y, [&](float *dY) {
        return cuda_fused_linear_device(dw, dX.as<float>(), m, dY, nullptr);
    });
}

} // namespace qb::kernels
