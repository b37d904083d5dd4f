// LoRA adapters (Hu et al. 2021) over any LinearOp, QLoRA-style: the base op stays frozen and
// packed (a quantized base is never kept as a float copy) and only the small matrices A and B
// train. QA-LoRA (Xu et al. 2023) pools the input over groups of g features, so that the adapter's
// update is constant within each quantization group and can be merged into the zero points of a
// group-wise INT base without touching the codes.
// Adapters are saved and loaded in Hugging Face PEFT's format (adapter_config.json +
// adapter_model.safetensors) and can be merged back into a dense or re-quantized base.
// Thread safety: as LinearOp and Transformer (one thread at a time; the model owns the ops).
#pragma once
#include "model/linear.h"
#include "model/transformer.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace qb {

struct LoraConfig
{
    int rank = 8;
    double alpha = 16;
    double dropout = 0.0;
    bool rslora = false; // scale alpha / sqrt(r) (Kalajdzievski 2023) instead of alpha / r
    // Globs on linear names (quant/quantize_model.h's globMatch); lm_head only when a pattern is
    // exactly "lm_head", and never when it is tied to the embeddings.
    std::vector<std::string> targets{"*"};
    int qaGroupSize = 0; // > 0: QA-LoRA with input groups of this many features

    double scale() const;
    // Keys: rank, alpha, dropout, rslora, targets, qa_group_size (all optional). Unknown keys,
    // wrong types and out-of-range values throw qb::Error naming `where` and the key.
    static LoraConfig fromJson(const nlohmann::json &j, const std::string &where);
};

// forward(x) = base(x) + scale * B A dropout(pool(x)), with A: [r, in / g] float32 (g = 1 unless
// QA-LoRA; pool averages each run of g input features) and B: [out, r] float32. A starts
// Kaiming-uniform as PEFT (bound 1 / sqrt(in / g)), B at zero, so a new adapter changes nothing.
// The base's output carries a gradient to x (through the base's effective weight, recomputed in
// backward) and never to the base's tensors.
class LoraLinear : public LinearOp
{
public:
    // Throws qb::Error when in % g != 0, or when the base is an IntGroupLinear whose group is not g.
    LoraLinear(std::shared_ptr<LinearOp> base, const LoraConfig &config, at::Generator &gen);

    at::Tensor forward(const at::Tensor &x) override;
    int64_t inFeatures() const override { return m_base->inFeatures(); }
    int64_t outFeatures() const override { return m_base->outFeatures(); }
    std::string kind() const override { return "lora(" + m_base->kind() + ")"; }
    // The base's bytes plus A and B in float32.
    int64_t weightBytes() const override;
    // base->denseWeight() + delta(): [out, in] float32.
    at::Tensor denseWeight() const override;
    at::Tensor bias() const override { return m_base->bias(); }
    // {A, B}, both requiring grad.
    std::vector<at::Tensor> trainableParameters() override { return {m_a, m_b}; }

    // Dropout acts only while training (the default is false: inference).
    void setTraining(bool training) { m_training = training; }
    bool training() const { return m_training; }

    at::Tensor &loraA() { return m_a; } // [r, in / g] float32
    at::Tensor &loraB() { return m_b; } // [out, r] float32
    const at::Tensor &loraA() const { return m_a; }
    const at::Tensor &loraB() const { return m_b; }
    const std::shared_ptr<LinearOp> &base() const { return m_base; }
    const LoraConfig &config() const { return m_config; }

    // The adapter's weight update scale * B A as [out, in] float32, without gradient; under
    // QA-LoRA each of A's pooled columns is repeated g times and divided by g.
    at::Tensor delta() const;

private:
    // B (A h): through DenseLinear, so outside training the two small products take the packed
    // GEMM (kernels/gemm_f32.h) instead of at::linear, whose OpenBLAS threads woke for them and
    // spun beside the pool's (15% of a batch-64 generation's samples in sched_yield); in training
    // DenseLinear hands them to at::linear as before. Rebuilt when A or B is another tensor.
    at::Tensor adapterProduct(const at::Tensor &h);

    std::shared_ptr<LinearOp> m_base;
    LoraConfig m_config;
    at::Tensor m_a, m_b;
    std::shared_ptr<DenseLinear> m_denseA, m_denseB;
    bool m_training = false;
};

// The linears `patterns` select, in model order: globs on linear names, lm_head only when a
// pattern is exactly "lm_head" and the head is not tied to the embeddings. Also QAT's selection.
std::vector<std::string> selectTrainTargets(const Transformer &model,
                                            const std::vector<std::string> &patterns);

// Wraps every linear `config.targets` selects (in model order, A drawn from one generator seeded
// with `seed`) and returns their names. Throws qb::Error naming the patterns when nothing matches,
// or when a selected layer already has an adapter.
std::vector<std::string> applyLora(Transformer &model, const LoraConfig &config, uint64_t seed);

// The model's LoRA layers in model order (pointers owned by the model).
std::vector<std::pair<std::string, LoraLinear *>> loraLayers(Transformer &model);

// Number of adapter parameters (A and B of every LoRA layer).
int64_t loraParameterCount(Transformer &model);

// Writes dir/adapter_config.json and dir/adapter_model.safetensors as PEFT does for a causal LM
// (tensors "base_model.model.<linear name>.lora_A.weight" [r, in / g] and ".lora_B.weight"
// [out, r], float32). QA-LoRA adds our own "qa_group_size" to the config. Atomic writes.
void saveLoraAdapter(const Transformer &model, const LoraConfig &config,
                     const std::filesystem::path &dir, const std::string &baseModelPath);

// Reads a PEFT LoRA adapter folder and wraps the named linears with it. Everything is validated
// before the model changes (config keys, peft_type, every tensor's name, pairing, dtype and shape,
// rank); on error a qb::Error names the file and the tensor and the model is untouched.
LoraConfig loadLoraAdapter(Transformer &model, const std::filesystem::path &dir);

// Replaces each LoRA layer by DenseLinear(base dense weight + delta, base bias): exact in float32.
void mergeLoraDense(Transformer &model);

struct MergeError
{
    std::string name;
    double relError = 0;     // ||requant(W + D) - (W + D)||_F / ||W + D||_F
    double deltaRelNorm = 0; // ||D||_F / ||W||_F
    std::string method;      // label of the method the merged weight was quantized with
    bool rtnFallback = false; // a calibrated method (gptq, awq) re-quantized as RTN int
};

// Replaces each LoRA layer by its base's method applied to W + D (the op's config() read back
// through the method table). Methods that need calibration and store a group-wise INT grid
// (gptq, awq) are re-quantized as RTN `int` with the same bits, group and symmetry (rtnFallback);
// other calibrated methods throw qb::Error. A dense base merges densely with relError 0.
std::vector<MergeError> mergeLoraQuantized(Transformer &model);

// Merges each QA-LoRA layer over an IntGroupLinear exactly: D is constant within every
// (row, group), so W + D = s (q - (z - D / s)) keeps the codes and moves only the zero points,
// which become real-valued (IntGroupLinear's zeros_f). Throws qb::Error for a QA-LoRA layer over
// any other base, over an op with input transforms (act-order, AWQ), or where a group's scale is 0
// but its D is not. LoRA layers without QA-LoRA are left as they are.
void mergeQaLora(Transformer &model);

} // namespace qb
