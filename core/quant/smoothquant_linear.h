// SmoothQuant W8A8 (Xiao et al. 2023): activation outliers are migrated into the weights with a
// per-input-channel factor s_j = max|X_j|^alpha / max|W_j|^(1 - alpha) (X_j: calibration
// activations of channel j, W_j: weight column j). The weight W diag(s) is quantized to int8 per
// output channel; at run time activations x / s are quantized to int8 per token and multiplied
// with an exact int32 GEMM, then rescaled. A deployment folds 1/s into the preceding norm; here
// the op keeps s itself (counted in weightBytes) so that any linear can be smoothed.
// Stored: qweight [out, in] int8, scales [out] float32, smooth [in] float32, bias [out] float32.
// Thread safety and ownership: as QuantizedLinear.
#pragma once
#include "quant/quantized_linear.h"

namespace qb {

class SmoothQuantLinear : public QuantizedLinear
{
public:
    // weight: [out, in] float32; actAbsmax: [in] float32, max |x_j| over calibration tokens.
    static std::shared_ptr<SmoothQuantLinear> quantize(const at::Tensor &weight,
                                                       const at::Tensor &bias,
                                                       const at::Tensor &actAbsmax, double alpha);
    // The smoothing factors s: [in] float32 (1 where a channel's activation or weight is all 0).
    static at::Tensor smoothingFactors(const at::Tensor &weight, const at::Tensor &actAbsmax,
                                       double alpha);
    SmoothQuantLinear(at::Tensor qweight, at::Tensor scales, at::Tensor smooth, at::Tensor bias,
                      double alpha);

    int64_t inFeatures() const override { return m_q.size(1); }
    int64_t outFeatures() const override { return m_q.size(0); }
    std::string kind() const override { return "smoothquant-w8a8"; }
    int64_t weightBytes() const override;
    // dequant(W diag(s)) diag(1/s): the weight without activation quantization.
    at::Tensor dequantizedWeight() const override;
    nlohmann::json methodConfig() const override
    {
        return {{"method", "smoothquant"}, {"alpha", m_alpha}};
    }
    std::map<std::string, at::Tensor> tensors() const override;

    const at::Tensor &smooth() const { return m_smooth; }

protected:
    // x: [..., in] float32 -> [..., out] float32 through int8 x int8.
    at::Tensor referenceForward(const at::Tensor &x) override;
    bool referenceDifferentiable() const override { return false; }

private:
    at::Tensor m_q;      // [out, in] int8
    at::Tensor m_scales; // [out] float32
    at::Tensor m_smooth; // [in] float32
    double m_alpha;
};

} // namespace qb
