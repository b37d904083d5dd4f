// INT8 weight-only absmax per output channel (Int8RowLinear) and LLM.int8() (LlmInt8Linear,
// Dettmers et al. 2022): int8 row-wise weights; at run time the input columns holding any
// |x| >= threshold are multiplied in float32 against the dequantized weight columns, the other
// columns go through int8 vector-wise activation quantization x int8 weights (exact int32 GEMM,
// kernels::gemm_s8s8s32) and are rescaled by (row scale of x) * (row scale of W).
// Stored: qweight [out, in] int8, scales [out] float32 (absmax / 127), bias [out] float32.
// Thread safety and ownership: as QuantizedLinear.
#pragma once
#include "quant/quantized_linear.h"

namespace qb {

// y[i, j] = float(Σ_k qx[i, k] qw[j, k]) · sx[i] · sw[j], float32 [rows, out], from int8
// activations qx [rows, in] (row scales sx [rows]) and int8 weights qw [out, in] (row scales sw
// [out]); the exact int32 sums split over the pool by output columns: the integer core of
// LLM.int8() and SmoothQuant.
at::Tensor int8ProductScaled(const at::Tensor &qx, const at::Tensor &qw, const at::Tensor &sx,
                             const at::Tensor &sw);

class Int8RowLinear : public QuantizedLinear
{
public:
    // weight: [out, in] float32, bias: [out] float32 or undefined.
    static std::shared_ptr<Int8RowLinear> quantize(const at::Tensor &weight,
                                                   const at::Tensor &bias = {});
    // qweight: [out, in] int8, scales: [out] float32.
    Int8RowLinear(at::Tensor qweight, at::Tensor scales, at::Tensor bias);

    int64_t inFeatures() const override { return m_q.size(1); }
    int64_t outFeatures() const override { return m_q.size(0); }
    std::string kind() const override { return "int8" + actSuffix(); }
    int64_t weightBytes() const override;
    at::Tensor dequantizedWeight() const override;
    nlohmann::json methodConfig() const override { return {{"method", "int8"}}; }
    std::map<std::string, at::Tensor> tensors() const override;

    const at::Tensor &qweight() const { return m_q; }
    const at::Tensor &scales() const { return m_scales; }

protected:
    // The fused INT8 GEMV/GEMM (float32 activations, row scale after the dot product).
    at::Tensor fusedForward(const at::Tensor &x) override;

    at::Tensor m_q;      // [out, in] int8
    at::Tensor m_scales; // [out] float32
};

class LlmInt8Linear : public Int8RowLinear
{
public:
    static std::shared_ptr<LlmInt8Linear> quantize(const at::Tensor &weight, const at::Tensor &bias,
                                                   double threshold = 6.0);
    LlmInt8Linear(at::Tensor qweight, at::Tensor scales, at::Tensor bias, double threshold);

    std::string kind() const override { return "llm_int8"; }
    nlohmann::json methodConfig() const override
    {
        return {{"method", "llm_int8"}, {"threshold", m_threshold}};
    }
    double threshold() const { return m_threshold; }
    // Outlier columns seen by the last forward (for reports and tests).
    int64_t lastOutlierColumns() const { return m_lastOutliers; }

protected:
    // x: [..., in] float32 -> [..., out] float32, mixed int8 / float32 decomposition.
    at::Tensor referenceForward(const at::Tensor &x) override;
    bool referenceDifferentiable() const override { return false; }
    // None: LLM.int8()'s arithmetic (int8 activations, outlier split) is the method itself.
    at::Tensor fusedForward(const at::Tensor &) override { return {}; }

private:
    double m_threshold;
    int64_t m_lastOutliers = 0;
};

} // namespace qb
