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
// Outside training (no gradient anywhere) a float32 input on the CPU takes kernels/gemm_f32.h
// (kernels/gemm_bf16.h while bf16ComputeActive(), quant/kernel_settings.h)
// over a copy of the weight packed for it, made on first such use and again whenever the weight
// changes (its tensor or version counter); weights over kMaxPackedBytes or past the process-wide
// budget (packedWeightBudget), and every input while the
// fused kernels are off (QB_FUSED=0), take at::linear. The copy doubles the weight's memory.
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

    static constexpr int64_t kMaxPackedBytes = int64_t(32) << 20;

private:
    // The packed copy for inference (gemm_f32's floats, or gemm_bf16's words when bf16),
    // current (packed again if the weight or the format changed), or undefined when this weight
    // does not take the packed path (too large, or the budget is spent).
    at::Tensor packedWeight(bool bf16);

    // Its bytes count against packedWeightBudget() while it lives; a copied DenseLinear packs
    // again on first use.
    struct PackedCopy
    {
        at::Tensor floats; // or bf16 pairs (int32 words) when bf16
        const void *from = nullptr;
        uint32_t version = 0;
        int64_t bytes = 0;
        bool bf16 = false;

        PackedCopy() = default;
        PackedCopy(const PackedCopy &) {}
        PackedCopy &operator=(const PackedCopy &);
        ~PackedCopy() { release(); }
        void release();
    };

    at::Tensor m_weight;
    at::Tensor m_bias;
    PackedCopy m_packed;
};

// All DenseLinears' packed copies together stay within a budget (default 1 GiB); a weight whose
// copy would pass it takes at::linear. packedWeightBytes(): the bytes held now.
int64_t packedWeightBudget();
void setPackedWeightBudget(int64_t bytes);
int64_t packedWeightBytes();

// Inference products through kernels/gemm_f32.h, for DenseLinear and the quantized linears'
// dequantize + matmul (QuantizedLinear::linearWith). gemmF32Applies: no autograd graph would be
// recorded (gradients off, or nothing requires one), x and w float32 on the CPU, and the fused
// kernels on (QB_FUSED). packForGemm: w [out, in] in gemm_f32's panels (split over the pool).
// gemmF32Linear: y = x Wᵀ + b from such a packed copy of W [out, in].
bool gemmF32Applies(const at::Tensor &x, const at::Tensor &w, const at::Tensor &bias);
at::Tensor packForGemm(const at::Tensor &w);
// w [out, in] as gemm_bf16's packed words (an int32 tensor), and the product through them.
at::Tensor packForGemmBf16(const at::Tensor &w);
at::Tensor gemmBf16Linear(const at::Tensor &x, const at::Tensor &packed, int64_t out, int64_t in,
                          const at::Tensor &bias);
at::Tensor gemmF32Linear(const at::Tensor &x, const at::Tensor &packed, int64_t out, int64_t in,
                         const at::Tensor &bias);

// A DenseLinear holding detached copies of op's dense (dequantized, merged) weight and its bias.
std::shared_ptr<DenseLinear> denseCopyOf(const LinearOp &op);

} // namespace qb
