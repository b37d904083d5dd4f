// QuantizedLinear: the common face of every quantized LinearOp in core/quant: a LinearOp that can
// describe itself as a JSON config plus named packed tensors (for quantized checkpoints) and be
// rebuilt from them (the method table's load, quant/method_registry.h).
// forward() is written once here: outside training it takes the op's fusedForward() when the op
// has one (up to fusedMaxRows() input rows a kernel reading the packed weight directly, beyond
// that a GEMM decoding the weight one 32-row panel at a time: quant/fused_kernels.h), otherwise
// referenceForward(), which dequantizes to float32 and multiplies (no big cache kept). Ops whose
// arithmetic is not dequantize + matmul (LLM.int8()'s outlier split, SmoothQuant's int8
// activations, the input transforms of GPTQ act-order and AWQ) override referenceForward(); a
// fused path never changes the stored format.
// Thread safety: as LinearOp (one thread at a time). Ownership: each op owns its tensors.
#pragma once
#include "model/linear.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <string>

namespace qb {

class QuantizedLinear : public LinearOp
{
public:
    // x: [..., in] float32 -> [..., out] float32.
    at::Tensor forward(const at::Tensor &x) final;
    // The effective weight [out, in] float32: dequantizedWeight().
    at::Tensor denseWeight() const final { return dequantizedWeight(); }
    // The packed weight decoded to [out, in] float32 (input transforms folded in).
    virtual at::Tensor dequantizedWeight() const = 0;
    // Largest number of input rows (x.numel() / in) that take the fused GEMV/small-GEMM kernels
    // with float activations; more rows take the GEMM decoding a 32-row panel at a time. At 12 and
    // 16 rows the panel GEMM took 1.3-2x less time than the fused kernels for INT8, INT4 g128 and
    // NF4 dq, in cache (the built-in model's shapes) and from DRAM (4096x4096); at 8 rows the
    // fused kernels were faster from DRAM (2.2 against 2.5-2.9 ms) and the panel GEMM in cache
    // (by up to 1.4x), at 4 rows the fused ones nearly everywhere (docs/kernels.md).
    virtual int64_t fusedMaxRows() const { return 8; }

    // {"method": ..., plus the method's settings}; enough with tensors() to rebuild the op.
    // methodConfig() plus "act_bits" when the inputs are quantized.
    nlohmann::json config() const;
    virtual nlohmann::json methodConfig() const = 0;
    // Stored tensors by suffix ("qweight", "scales", "qzeros", "absmax", "bias", ...), CPU,
    // contiguous, in their stored dtypes (uint8/int8 codes, float32 scales, int64 permutations).
    virtual std::map<std::string, at::Tensor> tensors() const = 0;

    at::Tensor bias() const override { return m_bias; }

    // Activation quantization (W4A4, W8A8 ...): with bits > 0 forward() first rounds each input
    // row to a symmetric `bits`-bit grid with its own absmax scale (fakeQuantizeActivations).
    // 0 (the default) leaves inputs in float32.
    void setActBits(int bits) { m_actBits = bits; }
    int actBits() const { return m_actBits; }

protected:
    // The fast path for few rows, or an undefined tensor when the op has none (the default).
    virtual at::Tensor fusedForward(const at::Tensor &x)
    {
        (void)x;
        return {};
    }
    // The reference: dequantize + at::linear.
    virtual at::Tensor referenceForward(const at::Tensor &x)
    {
        return linearWith(x, dequantizedWeight());
    }
    // Whether autograd can differentiate referenceForward. Ops that compute it with integer
    // kernels on the detached input (LLM.int8(), SmoothQuant) say no: for an input that needs a
    // gradient forward() then returns their values with the gradient of x · Wᵀ (W the
    // dequantized weight), as bitsandbytes' int8 matmul does. Before, their output carried no
    // gradient at all, so adapters below a non-adapted LLM.int8() layer trained on wrong
    // gradients.
    virtual bool referenceDifferentiable() const { return true; }

    int64_t biasBytes() const { return m_bias.defined() ? m_bias.numel() * 4 : 0; }
    // "-a4" when inputs are quantized to 4 bits, "" when not: the end of kind() and labels.
    std::string actSuffix() const { return m_actBits > 0 ? "-a" + std::to_string(m_actBits) : ""; }
    // y = x W^T + b with W: [out, in] float32 (dequantized) and b this op's bias, or `bias`
    // (undefined: none). Outside training with the fused kernels on, through kernels/gemm_f32.h
    // (the weight packed for it on every call: no copy is kept), else at::linear.
    at::Tensor linearWith(const at::Tensor &x, const at::Tensor &weight) const
    {
        return linearWith(x, weight, m_bias);
    }
    static at::Tensor linearWith(const at::Tensor &x, const at::Tensor &weight,
                                 const at::Tensor &bias)
    {
        if (gemmF32Applies(x, weight, bias))
            return gemmF32Linear(x, packForGemm(weight), weight.size(0), weight.size(1), bias);
        return bias.defined() ? at::linear(x, weight, bias) : at::linear(x, weight);
    }
    void addBias(std::map<std::string, at::Tensor> &out) const
    {
        if (m_bias.defined())
            out["bias"] = m_bias;
    }

    at::Tensor m_bias; // [out] float32 or undefined
    int m_actBits = 0;
};

// x: [..., in] -> each row (last dimension) rounded to the symmetric grid
// {-Q..Q} * s with Q = 2^(bits-1) - 1 and s = max|row| / Q (dynamic per-token absmax, as
// LLM.int8()'s and QuaRot's activation quantizers); an all-zero row stays zero. The gradient is
// the identity (straight-through: with the absmax scale nothing is clipped). bits in 2..8.
at::Tensor fakeQuantizeActivations(const at::Tensor &x, int bits);

// Rebuilds an op from config() and tensors() as written by a checkpoint, through the load of the
// method table's entry for config["method"]. Throws qb::Error naming `where` when a tensor is
// missing or has the wrong shape or dtype, or the method is unknown.
std::shared_ptr<QuantizedLinear> makeQuantizedLinear(
    const nlohmann::json &config, const std::map<std::string, at::Tensor> &tensors,
    int64_t outFeatures, int64_t inFeatures, const std::string &where);

// Helpers shared by the methods' files.
namespace quant_detail {
// A contiguous float32 CPU copy of x flattened to [rows, in].
at::Tensor rows2d(const at::Tensor &x);
// The stored tensor `name` of `tensors`, checked for dtype and shape; throws qb::Error.
at::Tensor need(const std::map<std::string, at::Tensor> &tensors, const std::string &name,
                at::ScalarType dtype, const std::vector<int64_t> &shape, const std::string &where);
at::Tensor optionalBias(const std::map<std::string, at::Tensor> &tensors, int64_t out,
                        const std::string &where);
} // namespace quant_detail

} // namespace qb
