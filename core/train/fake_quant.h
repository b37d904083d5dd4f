// Quantization-aware training (QAT): fake quantization (quantize then dequantize in the forward
// pass) with a straight-through estimator, and the linear op that trains through it.
// Without a learned scale the forward is exactly the method's own packed op decoded again (the
// method table's quantize + dequantizedWeight), so finishing QAT reproduces it. With a learned
// per-group scale (LSQ, Esser et al. 2020; group-wise `int` only) the scale is a trainable tensor.
// Thread safety: as LinearOp and Transformer (one thread at a time; the model owns the ops).
#pragma once
#include "model/linear.h"
#include "model/transformer.h"
#include "quant/method_spec.h"

#include <ATen/ATen.h>

#include <string>
#include <utility>
#include <vector>

namespace qb {

// w: [out, in] float32 -> quantize-dequantize(w) [out, in] float32, for a method that needs no
// calibration (int, nf4, fp4, int8, ...). Gradient to w: 1 where w lies inside the clip range,
// 0 outside (straight-through). With learnedScale (only for `int`): an undefined tensor is
// filled with the round-to-nearest scales [out, G] float32 (requiring grad) and then used; a
// defined one is used as given. Its gradient is LSQ's: (round(v) - v) inside the range, the clip
// bound (Qn or Qp, less the zero point) outside, v = w / s, times 1 / sqrt(group * Qp). The clip
// range is [Qn s, Qp s] (symmetric: Qn = -Qp = -(2^(k-1) - 1); asymmetric: codes 0..2^k - 1 less
// the zero point); with data-derived scales every weight lies inside it.
at::Tensor fakeQuantize(const at::Tensor &w, const MethodSpec &spec,
                        at::Tensor *learnedScale = nullptr);

// A linear layer that trains a float32 weight [out, in] (and bias [out], and with learnScale the
// scales [out, G]) and computes x fakeQuantize(W)^T + b.
class FakeQuantLinear : public LinearOp
{
public:
    // Copies source's dense weight and bias. Throws qb::Error for a method that needs
    // calibration, or learnScale with a method other than `int`.
    FakeQuantLinear(const LinearOp &source, const MethodSpec &spec, bool learnScale);

    at::Tensor forward(const at::Tensor &x) override;
    int64_t inFeatures() const override { return m_weight.size(1); }
    int64_t outFeatures() const override { return m_weight.size(0); }
    std::string kind() const override { return "qat(" + m_spec.label() + ")"; }
    int64_t weightBytes() const override;
    // fakeQuantize(weight) without gradient.
    at::Tensor denseWeight() const override;
    at::Tensor bias() const override { return m_bias; }
    std::vector<at::Tensor> trainableParameters() override;

    const MethodSpec &spec() const { return m_spec; }
    at::Tensor &weight() { return m_weight; }
    at::Tensor &learnedScale() { return m_scale; } // [out, G] float32 or undefined
    // The packed op the weight quantizes to: the method's quantize, or with learned scales an
    // IntGroupLinear built from the codes the fake quantizer chose.
    std::shared_ptr<LinearOp> pack() const;

private:
    MethodSpec m_spec;
    at::Tensor m_weight, m_bias, m_scale;
};

// Replaces every linear `targets` selects (train/lora.h's selectTrainTargets) with a
// FakeQuantLinear; returns their names.
std::vector<std::string> applyQat(Transformer &model, const MethodSpec &spec,
                                  const std::vector<std::string> &targets,
                                  bool learnScale = false);

// Replaces each FakeQuantLinear by its packed op; returns per layer max |dequant(packed) -
// fakeQuantize(weight)| (0 up to float rounding when the two agree).
std::vector<std::pair<std::string, double>> finishQat(Transformer &model);

} // namespace qb
