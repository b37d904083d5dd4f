#include "quant/fp8_linear.h"

#include "kernels/fp8_e4m3.h"

#include <cmath>

namespace qb {

std::shared_ptr<Fp8Linear> Fp8Linear::quantize(const at::Tensor &weight, const at::Tensor &bias)
{
    TORCH_CHECK(weight.dim() == 2, "Fp8Linear: weight must be [out, in]");
    auto w = weight.detach().to(at::kFloat).contiguous();
    const int64_t rows = w.size(0), cols = w.size(1);
    auto scales = at::empty({rows}, at::kFloat);
    auto scaled = at::empty({rows, cols}, at::kFloat);
    const float *wv = w.data_ptr<float>();
    float *sv = scales.data_ptr<float>(), *xv = scaled.data_ptr<float>();
    // Plain float arithmetic (not torch's scalar division, which may use a reciprocal) so that
    // the codes are exactly those of the documented formula.
    for (int64_t r = 0; r < rows; ++r) {
        float amax = 0.0f;
        for (int64_t c = 0; c < cols; ++c)
            amax = std::max(amax, std::fabs(wv[r * cols + c]));
        sv[r] = amax / 448.0f;
        const float div = sv[r] > 0.0f ? sv[r] : 1.0f; // a zero row keeps scale 0
        for (int64_t c = 0; c < cols; ++c)
            xv[r * cols + c] = wv[r * cols + c] / div;
    }
    auto codes = at::empty(w.sizes(), at::kByte);
    kernels::fp8_e4m3_encode(xv, w.numel(), codes.data_ptr<uint8_t>());
    return std::make_shared<Fp8Linear>(
        codes, scales, bias.defined() ? bias.detach().to(at::kFloat).clone() : bias);
}

Fp8Linear::Fp8Linear(at::Tensor codes, at::Tensor scales, at::Tensor bias)
    : m_codes(std::move(codes)), m_scales(std::move(scales))
{
    TORCH_CHECK(m_codes.dim() == 2 && m_codes.scalar_type() == at::kByte, "Fp8Linear: uint8 codes");
    TORCH_CHECK(m_scales.numel() == m_codes.size(0), "Fp8Linear: scales must be [out]");
    m_bias = std::move(bias);
}

at::Tensor Fp8Linear::dequantizedWeight() const
{
    auto out = at::empty(m_codes.sizes(), at::kFloat);
    kernels::fp8_e4m3_decode_rows(m_codes.data_ptr<uint8_t>(), m_scales.data_ptr<float>(),
                                  m_codes.size(0), m_codes.size(1), out.data_ptr<float>());
    return out;
}

int64_t Fp8Linear::weightBytes() const
{
    return m_codes.numel() + m_scales.numel() * 4 + biasBytes();
}

std::map<std::string, at::Tensor> Fp8Linear::tensors() const
{
    std::map<std::string, at::Tensor> out{{"qweight", m_codes}, {"scales", m_scales}};
    addBias(out);
    return out;
}

} // namespace qb
