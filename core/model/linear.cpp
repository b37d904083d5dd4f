#include "model/linear.h"

#include "kernels/gemm_f32.h"
#include "quant/fused_kernels.h"
#include "util/parallel.h"

#include <ATen/core/grad_mode.h>

namespace qb {

DenseLinear::DenseLinear(at::Tensor weight, at::Tensor bias)
    : m_weight(std::move(weight)), m_bias(std::move(bias))
{
    TORCH_CHECK(m_weight.dim() == 2, "DenseLinear: weight must be [out, in]");
    TORCH_CHECK(!m_bias.defined() || (m_bias.dim() == 1 && m_bias.size(0) == m_weight.size(0)),
                "DenseLinear: bias must be [out]");
}

const at::Tensor &DenseLinear::packedWeight()
{
    const auto bytes = m_weight.numel() * static_cast<int64_t>(m_weight.element_size());
    if (!fusedKernelsEnabled() || !m_weight.device().is_cpu() || bytes > kMaxPackedBytes
        || !m_weight.is_contiguous() || (m_bias.defined() && !m_bias.is_contiguous())) {
        m_packed = at::Tensor();
        return m_packed;
    }
    // Inference tensors (made under c10::InferenceMode) keep no version counter: for them only a
    // new tensor is seen, not an in-place change (made under InferenceMode too).
    const uint32_t version = m_weight.is_inference() ? 0 : m_weight._version();
    if (!m_packed.defined() || m_packedFrom != m_weight.data_ptr() || m_packedVersion != version) {
        const int64_t rows = m_weight.size(0), cols = m_weight.size(1);
        m_packed = at::empty({kernels::gemm_f32_packed_floats(rows, cols)}, at::kFloat);
        kernels::gemm_f32_pack(m_weight.data_ptr<float>(), rows, cols, m_packed.data_ptr<float>());
        m_packedFrom = m_weight.data_ptr();
        m_packedVersion = version;
    }
    return m_packed;
}

at::Tensor DenseLinear::forward(const at::Tensor &x)
{
    // Inference: no autograd graph would be recorded (gradients off, or nothing requiring one).
    const bool graph = at::GradMode::is_enabled()
        && (x.requires_grad() || m_weight.requires_grad()
            || (m_bias.defined() && m_bias.requires_grad()));
    const bool inference = !graph && x.scalar_type() == at::kFloat
        && m_weight.scalar_type() == at::kFloat && x.device() == m_weight.device();
    if (inference && x.device().is_cpu() && x.numel() > 0) {
        if (const at::Tensor &packed = packedWeight(); packed.defined()) {
            const at::Tensor xc = x.contiguous();
            auto shape = x.sizes().vec();
            shape.back() = m_weight.size(0);
            at::Tensor y = at::empty(shape, x.options());
            kernels::GemmF32Args a;
            a.x = xc.data_ptr<float>();
            a.m = x.numel() / x.size(-1), a.ldx = x.size(-1);
            a.packed = packed.data_ptr<float>();
            a.n = m_weight.size(0), a.k = m_weight.size(1);
            a.bias = m_bias.defined() ? m_bias.data_ptr<float>() : nullptr;
            a.y = y.data_ptr<float>(), a.ldy = a.n;
            const kernels::KernelPath path = activeKernelPath();
            parallelFor(0, kernels::gemm_f32_items(a), splitGrain(kernels::gemm_f32_item_work(a)),
                        [&](int64_t begin, int64_t end) { kernels::gemm_f32(a, begin, end, path); });
            return y;
        }
    }
    // One float32 input row outside training: BLAS's matrix-vector product. at::linear hands it
    // to GEMM with M = 1, which this OpenBLAS runs 1.8-3x slower (bench kernels: 4096x4096
    // 6.4 ms against 2.1 ms; 640x256 71 us against 39 us).
    if (x.numel() == x.size(-1) && inference) {
        at::Tensor y = at::mv(m_weight, x.reshape({-1}));
        if (m_bias.defined())
            y.add_(m_bias);
        auto shape = x.sizes().vec();
        shape.back() = m_weight.size(0);
        return y.reshape(shape);
    }
    return m_bias.defined() ? at::linear(x, m_weight, m_bias) : at::linear(x, m_weight);
}

int64_t DenseLinear::weightBytes() const
{
    int64_t bytes = m_weight.numel() * static_cast<int64_t>(m_weight.element_size());
    if (m_bias.defined())
        bytes += m_bias.numel() * static_cast<int64_t>(m_bias.element_size());
    return bytes;
}

std::shared_ptr<DenseLinear> denseCopyOf(const LinearOp &op)
{
    const at::Tensor b = op.bias();
    return std::make_shared<DenseLinear>(op.denseWeight().detach().clone(),
                                         b.defined() ? b.detach().clone() : at::Tensor());
}

std::vector<at::Tensor> DenseLinear::trainableParameters()
{
    std::vector<at::Tensor> out{m_weight};
    if (m_bias.defined())
        out.push_back(m_bias);
    return out;
}

} // namespace qb
