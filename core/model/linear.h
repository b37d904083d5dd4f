// LinearOp: one linear projection of the transformer (q/k/v/o, gate/up/down, lm_head), replaceable
// by name with another implementation (quantized, LoRA-wrapped). The model owns its LinearOps
// through shared_ptr; a LinearOp is used from one thread at a time.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace qb {

class LinearOp
{
public:
    virtual ~LinearOp() = default;

    // x: [..., in] float32 -> [..., out] float32.
    virtual at::Tensor forward(const at::Tensor &x) = 0;

    virtual int64_t inFeatures() const = 0;
    virtual int64_t outFeatures() const = 0;

    // Short label for reports, e.g. "dense", "nf4", "int4-g128".
    virtual std::string kind() const = 0;

    // Bytes the weight really occupies in memory (packed codes, scales, zero points, bias).
    virtual int64_t weightBytes() const = 0;

    // The effective weight as dense float32 [out, in] (dequantized where quantized).
    virtual at::Tensor denseWeight() const = 0;

    // Bias [out] float32, or an undefined tensor.
    virtual at::Tensor bias() const { return {}; }

    // Tensors that training may update (empty for frozen or quantized ops).
    virtual std::vector<at::Tensor> trainableParameters() { return {}; }
};

// Plain float32 weight [out, in] and optional bias [out]: y = x W^T + b.
class DenseLinear : public LinearOp
{
public:
    DenseLinear(at::Tensor weight, at::Tensor bias = {});

    at::Tensor forward(const at::Tensor &x) override;
    int64_t inFeatures() const override { return m_weight.size(1); }
    int64_t outFeatures() const override { return m_weight.size(0); }
    std::string kind() const override { return "dense"; }
    int64_t weightBytes() const override;
    at::Tensor denseWeight() const override { return m_weight; }
    at::Tensor bias() const override { return m_bias; }
    std::vector<at::Tensor> trainableParameters() override;

    at::Tensor &weight() { return m_weight; }

private:
    at::Tensor m_weight;
    at::Tensor m_bias;
};

// A DenseLinear holding detached copies of op's dense (dequantized, merged) weight and its bias.
std::shared_ptr<DenseLinear> denseCopyOf(const LinearOp &op);

} // namespace qb
