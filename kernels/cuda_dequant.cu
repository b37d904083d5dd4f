// CUDA dequantization kernels for NF4, group-wise INT-k and row-wise INT8 (see cuda_dequant.h).
// One thread per output value (grid-stride), arithmetic identical to the CPU references so the
// results match them bit for bit. Check: tst_kernels_cuda_dequant on a machine with a GPU.
#include "kernels/cuda_dequant.h"
#include "kernels/cuda_support.cuh"
#include "kernels/nf4.h"

#include <cuda_runtime.h>

#include <string>
#include <vector>

namespace qb::kernels {
namespace {

using namespace cuda_detail;

struct Codebook16
{
    float v[16];
};

__global__ void nf4_kernel(const std::uint8_t *__restrict__ packed,
                           const float *__restrict__ absmax, std::int64_t n, int block_size,
                           Codebook16 book, float *__restrict__ out)
{
    const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
    for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
         i += stride) {
        const std::uint8_t byte = packed[i / 2];
        const int code = (i % 2 == 0) ? (byte >> 4) : (byte & 0x0F);
        out[i] = __fmul_rn(book.v[code], absmax[i / block_size]);
    }
}

__global__ void int_group_kernel(const std::uint8_t *__restrict__ packed,
                                 const float *__restrict__ scales,
                                 const std::uint8_t *__restrict__ zeros, std::int64_t rows,
                                 std::int64_t cols, std::int64_t group, std::int64_t groups,
                                 std::int64_t row_bytes, int bits, float *__restrict__ out)
{
    const std::int64_t n = rows * cols;
    const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
    for (std::int64_t e = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; e < n;
         e += stride) {
        const std::int64_t r = e / cols;
        const std::int64_t c = e % cols;
        const std::uint8_t *row = packed + r * row_bytes;
        const std::int64_t bit = c * bits;
        const int offset = static_cast<int>(bit % 8);
        unsigned window = static_cast<unsigned>(row[bit / 8]) << 8;
        if (offset + bits > 8)
            window |= row[bit / 8 + 1];
        const int code = static_cast<int>((window >> (16 - bits - offset)) & ((1u << bits) - 1));
        const std::int64_t g = r * groups + c / group;
        const int zero = zeros ? zeros[g] : (1 << (bits - 1));
        out[e] = __fmul_rn(static_cast<float>(code - zero), scales[g]);
    }
}

__global__ void int8_rowwise_kernel(const std::int8_t *__restrict__ q,
                                    const float *__restrict__ scale, std::int64_t rows,
                                    std::int64_t cols, float *__restrict__ out)
{
    const std::int64_t n = rows * cols;
    const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
    for (std::int64_t e = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; e < n;
         e += stride)
        out[e] = __fmul_rn(static_cast<float>(q[e]), scale[e / cols]);
}

constexpr int kThreads = 256;

} // namespace

int cuda_device_count()
{
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
        cudaGetLastError(); // clear the sticky "no device" error
        return 0;
    }
    return count;
}

CudaStatus cuda_dequantize_nf4_device(const std::uint8_t *packed, const float *absmax,
                                      std::int64_t n, int block_size, float *out, void *stream)
{
    if (n <= 0)
        return {};
    Codebook16 book;
    const float *values = codebook4_values(Codebook4::Nf4);
    for (int i = 0; i < 16; ++i)
        book.v[i] = values[i];
    nf4_kernel<<<grid_for(n, kThreads), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
        packed, absmax, n, block_size, book, out);
    return status_of(cudaGetLastError(), "nf4_kernel launch");
}

CudaStatus cuda_dequantize_nf4_host(const std::uint8_t *packed, const float *absmax,
                                    std::int64_t n, int block_size, float *out)
{
    DeviceBuffer dPacked, dAbsmax;
    CudaStatus s = upload(dPacked, packed, static_cast<std::size_t>(blockwise4_packed_bytes(n)));
    if (s.ok())
        s = upload(dAbsmax, absmax,
                   sizeof(float) * static_cast<std::size_t>(blockwise4_num_blocks(n, block_size)));
    if (!s.ok())
        return s;
    return run_to_host(sizeof(float) * static_cast<std::size_t>(n), out, [&](float *dOut) {
        return cuda_dequantize_nf4_device(dPacked.as<std::uint8_t>(), dAbsmax.as<float>(), n,
                                          block_size, dOut, nullptr);
    });
}

CudaStatus cuda_dequantize_int_group_device(const std::uint8_t *packed, const float *scales,
                                            const std::uint8_t *zeros, std::int64_t rows,
                                            std::int64_t cols, const IntGroupConfig &cfg,
                                            float *out, void *stream)
{
    if (rows <= 0 || cols <= 0)
        return {};
    const std::int64_t n = rows * cols;
    int_group_kernel<<<grid_for(n, kThreads), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
        packed, scales, cfg.symmetric ? nullptr : zeros, rows, cols, int_group_size(cfg, cols),
        int_group_groups_per_row(cfg, cols), int_group_row_bytes(cfg.bits, cols), cfg.bits, out);
    return status_of(cudaGetLastError(), "int_group_kernel launch");
}

CudaStatus cuda_dequantize_int_group_host(const std::uint8_t *packed, const float *scales,
                                          const std::uint8_t *zeros, std::int64_t rows,
                                          std::int64_t cols, const IntGroupConfig &cfg,
                                          float *out)
{
    const std::size_t groups =
        static_cast<std::size_t>(rows * int_group_groups_per_row(cfg, cols));
    DeviceBuffer dPacked, dScales, dZeros;
    CudaStatus s = upload(dPacked, packed,
                          static_cast<std::size_t>(rows * int_group_row_bytes(cfg.bits, cols)));
    if (s.ok())
        s = upload(dScales, scales, sizeof(float) * groups);
    if (s.ok() && !cfg.symmetric)
        s = upload(dZeros, zeros, groups);
    if (!s.ok())
        return s;
    return run_to_host(sizeof(float) * static_cast<std::size_t>(rows * cols), out,
                       [&](float *dOut) {
                           return cuda_dequantize_int_group_device(
                               dPacked.as<std::uint8_t>(), dScales.as<float>(),
                               dZeros.as<std::uint8_t>(), rows, cols, cfg, dOut, nullptr);
                       });
}

CudaStatus cuda_dequantize_int8_rowwise_device(const std::int8_t *q, const float *scale,
                                               std::int64_t rows, std::int64_t cols, float *out,
                                               void *stream)
{
    if (rows <= 0 || cols <= 0)
        return {};
    int8_rowwise_kernel<<<grid_for(rows * cols, kThreads), kThreads, 0,
                          static_cast<cudaStream_t>(stream)>>>(q, scale, rows, cols, out);
    return status_of(cudaGetLastError(), "int8_rowwise_kernel launch");
}

CudaStatus cuda_dequantize_int8_rowwise_host(const std::int8_t *q, const float *scale,
                                             std::int64_t rows, std::int64_t cols, float *out)
{
    DeviceBuffer dQ, dScale;
    CudaStatus s = upload(dQ, q, static_cast<std::size_t>(rows * cols));
    if (s.ok())
        s = upload(dScale, scale, sizeof(float) * static_cast<std::size_t>(rows));
    if (!s.ok())
        return s;
    return run_to_host(sizeof(float) * static_cast<std::size_t>(rows * cols), out,
                       [&](float *dOut) {
                           return cuda_dequantize_int8_rowwise_device(
                               dQ.as<std::int8_t>(), dScale.as<float>(), rows, cols, dOut,
                               nullptr);
                       });
}

} // namespace qb::kernels
