#include "quant/smoothquant_linear.h"

#include "kernels/int8_rowwise.h"
#include "quant/int8_linear.h"
#include "util/error.h"

#include <cmath>

namespace qb {

at::Tensor SmoothQuantLinear::smoothingFactors(const at::Tensor &weight,
                                               const at::Tensor &actAbsmax, double alpha)
{
    auto w = weight.detach().to(at::kFloat);
    auto a = actAbsmax.to(at::kFloat).contiguous();
    TORCH_CHECK(a.numel() == w.size(1), "SmoothQuant: activation absmax must be [in]");
    auto wmax = w.abs().amax(0);
    auto s = at::pow(a, alpha) / at::pow(wmax, 1.0 - alpha);
    // A dead channel (no activation or no weight) has nothing to migrate.
    auto ok = (a > 0) & (wmax > 0) & at::isfinite(s);
    return at::where(ok, s, at::ones_like(s)).contiguous();
}

std::shared_ptr<SmoothQuantLinear> SmoothQuantLinear::quantize(const at::Tensor &weight,
                                                               const at::Tensor &bias,
                                                               const at::Tensor &actAbsmax,
                                                               double alpha)
{
    if (!(alpha >= 0.0 && alpha <= 1.0))
        throw Error("smoothquant alpha " + std::to_string(alpha) + " must be in [0, 1]");
    auto w = weight.detach().to(at::kFloat).contiguous();
    auto s = smoothingFactors(w, actAbsmax, alpha);
    auto ws = (w * s.unsqueeze(0)).contiguous();
    auto q = at::empty(w.sizes(), at::kChar);
    auto scales = at::empty({w.size(0)}, at::kFloat);
    kernels::quantize_int8_rowwise(ws.data_ptr<float>(), w.size(0), w.size(1), q.data_ptr<int8_t>(),
                                   scales.data_ptr<float>());
    return std::make_shared<SmoothQuantLinear>(
        q, scales, s, bias.defined() ? bias.detach().to(at::kFloat).clone() : bias, alpha);
}

SmoothQuantLinear::SmoothQuantLinear(at::Tensor qweight, at::Tensor scales, at::Tensor smooth,
                                     at::Tensor bias, double alpha)
    : m_q(std::move(qweight)), m_scales(std::move(scales)), m_smooth(std::move(smooth)),
      m_alpha(alpha)
{
    TORCH_CHECK(m_q.dim() == 2 && m_q.scalar_type() == at::kChar, "SmoothQuant: int8 [out, in]");
    TORCH_CHECK(m_scales.numel() == m_q.size(0) && m_smooth.numel() == m_q.size(1),
                "SmoothQuant: scales [out], smooth [in]");
    m_bias = std::move(bias);
}

at::Tensor SmoothQuantLinear::referenceForward(const at::Tensor &x)
{
    const int64_t in = inFeatures(), out = outFeatures();
    TORCH_CHECK(x.size(-1) == in, "SmoothQuant: input has ", x.size(-1), " features, expected ",
                in);
    auto xs = (quant_detail::rows2d(x) / m_smooth).contiguous();
    const int64_t rows = xs.size(0);
    auto qx = at::empty({rows, in}, at::kChar);
    auto sx = at::empty({rows}, at::kFloat);
    kernels::quantize_int8_rowwise(xs.data_ptr<float>(), rows, in, qx.data_ptr<int8_t>(),
                                   sx.data_ptr<float>());
    at::Tensor y = int8ProductScaled(qx, m_q, sx, m_scales);
    if (m_bias.defined())
        y = y + m_bias;
    auto shape = x.sizes().vec();
    shape.back() = out;
    return y.reshape(shape);
}

at::Tensor SmoothQuantLinear::dequantizedWeight() const
{
    auto out = at::empty(m_q.sizes(), at::kFloat);
    kernels::dequantize_int8_rowwise(m_q.data_ptr<int8_t>(), m_scales.data_ptr<float>(),
                                     m_q.size(0), m_q.size(1), out.data_ptr<float>());
    return out / m_smooth.unsqueeze(0);
}

int64_t SmoothQuantLinear::weightBytes() const
{
    return m_q.numel() + m_scales.numel() * 4 + m_smooth.numel() * 4 + biasBytes();
}

std::map<std::string, at::Tensor> SmoothQuantLinear::tensors() const
{
    std::map<std::string, at::Tensor> out{
        {"qweight", m_q}, {"scales", m_scales}, {"smooth", m_smooth}};
    addBias(out);
    return out;
}

} // namespace qb
