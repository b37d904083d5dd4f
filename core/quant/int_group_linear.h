// Group-wise INT-k weights (k = 2, 3, 4, 8; groups of 32/64/128 along `in` or per channel;
// symmetric or with zero points), in the packed layout of kernels/int_group.h. Also the storage
// of GPTQ and AWQ results, which add two input transforms applied before the product:
//   input_scale s [in] float32 (AWQ): the codes quantize W diag(s), and forward uses x / s;
//   perm [in] int64 (GPTQ act-order without static groups): the codes are stored in the permuted
//       column order, so groups stay contiguous there, and forward uses x[:, perm].
// forward(x) = ((x / s)[:, perm]) dequant(codes)^T + b; denseWeight() folds both transforms back
// into an equivalent [out, in] weight in the original column order.
// Stored: qweight [out, ceil(in * k / 8)] uint8, scales [out, G] float32, qzeros [out, G] uint8
// (asymmetric only), optional perm, input_scale, bias; and optional zeros_f [out, G] float32:
// real-valued zero points that, when present, replace the integer ones in dequantization
// (value = (code - zeros_f) * scale). A QA-LoRA merge (train/lora.h) moves only the zero points,
// by a fraction of a step, so they cannot stay uint8; ops without zeros_f store what they always did.
// In memory the kernels' rows layout (kernels/fused_linear.h IntGroupRows: each row's scales
// and zero points right before its codes) where its padding costs at most 3% of the dense
// bytes (rows of ~1,000 columns and more), else the dense tensors; tensors() returns the dense
// form either way.
// Thread safety and ownership: as QuantizedLinear.
#pragma once
#include "kernels/fused_linear.h"
#include "kernels/int_group.h"
#include "quant/quantized_linear.h"

namespace qb {

class IntGroupLinear : public QuantizedLinear
{
public:
    // Round-to-nearest. weight: [out, in] float32, bias: [out] float32 or undefined.
    static std::shared_ptr<IntGroupLinear> quantize(const at::Tensor &weight,
                                                    const at::Tensor &bias,
                                                    const kernels::IntGroupConfig &cfg);
    // Codes as one uint8 per value ([out, in], stored column order), packed here.
    static std::shared_ptr<IntGroupLinear> fromCodes(const at::Tensor &codes,
                                                     const at::Tensor &scales,
                                                     const at::Tensor &zeros,
                                                     const kernels::IntGroupConfig &cfg,
                                                     const at::Tensor &bias);
    IntGroupLinear(const kernels::IntGroupConfig &cfg, int64_t out, int64_t in,
                   std::map<std::string, at::Tensor> tensors);

    int64_t inFeatures() const override { return m_in; }
    int64_t outFeatures() const override { return m_out; }
    // "int4-g128", "int3-g64-asym", "int8-pc", with a "gptq-"/"awq-" prefix set by the method.
    std::string kind() const override;
    int64_t weightBytes() const override;
    at::Tensor dequantizedWeight() const override;
    nlohmann::json methodConfig() const override;
    std::map<std::string, at::Tensor> tensors() const override;

    // The dequantized codes in stored column order, [out, in] float32 (no input transforms).
    at::Tensor storedWeight() const;
    const kernels::IntGroupConfig &intConfig() const { return m_cfg; }

    void setMethod(const std::string &method) { m_method = method; }
    // [in] float32, or undefined for none.
    void setInputScale(at::Tensor s) { m_inputScale = std::move(s); }
    void setPermutation(at::Tensor p) { m_perm = std::move(p); }      // [in] int64
    const at::Tensor &inputScale() const { return m_inputScale; }
    const at::Tensor &permutation() const { return m_perm; }
    // zeros: [out, G] float32, or undefined to decode with the integer zero points again.
    void setRealZeros(at::Tensor zeros);
    const at::Tensor &realZeros() const { return m_zerosF; }

protected:
    // ((x / s)[:, perm]) dequant(codes)^T + b: the transforms stay on the input.
    at::Tensor referenceForward(const at::Tensor &x) override;
    // The same through the fused kernel (zeros_f honoured; the transforms applied to x first).
    at::Tensor fusedForward(const at::Tensor &x) override;

private:
    // The kernels' view of the stored weight (either layout).
    kernels::FusedWeight fusedWeight() const;

    kernels::IntGroupConfig m_cfg;
    int64_t m_out, m_in;
    std::string m_method = "int"; // "int", "gptq" or "awq": how the codes were chosen
    // m_packed, m_scales, m_zeros: the dense tensors, or views (row strides) into m_rows, the
    // rows layout's buffer (undefined when dense).
    at::Tensor m_packed, m_scales, m_zeros, m_perm, m_inputScale, m_zerosF;
    at::Tensor m_rows;
    kernels::IntGroupRows m_layout;
};

// Labels such as "int4-g128" / "int3-g64-asym" / "int8-pc" for a config.
std::string intGroupLabel(const kernels::IntGroupConfig &cfg);

} // namespace qb
