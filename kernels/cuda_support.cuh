// Private to kernels/*.cu: CUDA status, device buffers and host round trips shared by the
// dequantize and GEMV kernels. Include only from .cu files.
#pragma once

#include "kernels/cuda_dequant.h"

#include <cuda_runtime.h>

#include <cstdint>
#include <string>

namespace qb::kernels::cuda_detail {

inline CudaStatus status_of(cudaError_t err, const char *what)
{
    if (err == cudaSuccess)
        return {};
    return {static_cast<int>(err), std::string(what) + ": " + cudaGetErrorString(err)};
}

inline unsigned grid_for(std::int64_t n, int threads)
{
    const std::int64_t blocks = (n + threads - 1) / threads;
    return static_cast<unsigned>(blocks < 65535 * 16 ? (blocks > 0 ? blocks : 1) : 65535 * 16);
}

// A device buffer freed on scope exit.
class DeviceBuffer
{
public:
    DeviceBuffer() = default;
    DeviceBuffer(const DeviceBuffer &) = delete;
    DeviceBuffer &operator=(const DeviceBuffer &) = delete;
    ~DeviceBuffer()
    {
        if (m_ptr)
            cudaFree(m_ptr);
    }
    cudaError_t allocate(std::size_t bytes) { return cudaMalloc(&m_ptr, bytes > 0 ? bytes : 1); }
    template <typename T> T *as() const { return static_cast<T *>(m_ptr); }

private:
    void *m_ptr = nullptr;
};

// Copies `bytes` from host into a fresh device buffer.
inline CudaStatus upload(DeviceBuffer &buf, const void *src, std::size_t bytes)
{
    CudaStatus s = status_of(buf.allocate(bytes), "cudaMalloc");
    if (!s.ok() || bytes == 0)
        return s;
    return status_of(cudaMemcpy(buf.as<void>(), src, bytes, cudaMemcpyHostToDevice),
                     "cudaMemcpy(host->device)");
}

// Runs `launch` with a device output buffer of `bytes`, then copies it back to `out`.
template <typename Launch>
CudaStatus run_to_host(std::size_t bytes, float *out, Launch launch)
{
    DeviceBuffer dOut;
    CudaStatus s = status_of(dOut.allocate(bytes), "cudaMalloc");
    if (!s.ok())
        return s;
    s = launch(dOut.as<float>());
    if (!s.ok())
        return s;
    s = status_of(cudaDeviceSynchronize(), "kernel execution");
    if (!s.ok())
        return s;
    return status_of(cudaMemcpy(out, dOut.as<void>(), bytes, cudaMemcpyDeviceToHost),
                     "cudaMemcpy(device->host)");
}

} // namespace qb::kernels::cuda_detail
