// FP8 E4M3 weights with one float32 scale per output channel (scale = row absmax / 448, the
// largest finite E4M3 value), kernels/fp8_e4m3.h. Weight simulation: forward decodes to float32
// and multiplies in float32 (activations stay float32).
// Stored: qweight [out, in] uint8 (E4M3 codes), scales [out] float32, bias [out] float32.
// Thread safety and ownership: as QuantizedLinear.
#pragma once
#include "quant/quantized_linear.h"

namespace qb {

class Fp8Linear : public QuantizedLinear
{
public:
    // weight: [out, in] float32.
    static std::shared_ptr<Fp8Linear> quantize(const at::Tensor &weight, const at::Tensor &bias);
    Fp8Linear(at::Tensor codes, at::Tensor scales, at::Tensor bias);

    int64_t inFeatures() const override { return m_codes.size(1); }
    int64_t outFeatures() const override { return m_codes.size(0); }
    std::string kind() const override { return "fp8-e4m3"; }
    int64_t weightBytes() const override;
    at::Tensor dequantizedWeight() const override;
    nlohmann::json methodConfig() const override { return {{"method", "fp8"}}; }
    std::map<std::string, at::Tensor> tensors() const override;

private:
    at::Tensor m_codes;  // [out, in] uint8
    at::Tensor m_scales; // [out] float32
};

} // namespace qb
