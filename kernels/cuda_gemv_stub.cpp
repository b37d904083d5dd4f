// Fallbacks for cuda_gemv.h when the library is built without CUDA: every call reports
// kCudaUnavailable. With CUDA, cuda_gemv.cu defines these functions instead.
#include "kernels/cuda_gemv.h"

#ifndef QB_HAVE_CUDA

namespace qb::kernels {

CudaStatus cuda_fused_linear_device(const FusedWeight &, const float *, std::int64_t, float *,
                                    void *)
{
    return {kCudaUnavailable, "QuantBench was built without CUDA"};
}

CudaStatus cuda_fused_linear_host(const FusedWeight &, const float *, std::int64_t, float *)
{
    return {kCudaUnavailable, "QuantBench was built without CUDA"};
}

} // namespace qb::kernels

#endif // QB_HAVE_CUDA
