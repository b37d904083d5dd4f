// Transformer: a Llama-family decoder (RMSNorm, rotary embeddings, grouped-query attention, SwiGLU
// MLP) whose tensors carry Hugging Face names, so real checkpoints load by name. Every linear
// projection is a LinearOp found by its HF name without ".weight" (e.g.
// "model.layers.3.self_attn.q_proj") and can be swapped with setLinear(). Float32 on CPU.
// Not thread-safe: one forward at a time; the object owns its tensors and LinearOps.
#pragma once
#include "model/kv_cache.h"
#include "model/linear.h"
#include "model/model_config.h"

#include <ATen/ATen.h>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace qb {

struct ForwardOptions
{
    // Written at each row's length when given (allocated on first use). With rows of different
    // lengths seq must be 1 and attentionMask and positions are required.
    KVCache *cache = nullptr;
    at::Tensor attentionMask;       // [batch, past + seq] int64/bool, 1 = real token; undefined = all
    at::Tensor positions;           // [batch, seq] int64; undefined = past .. past + seq - 1
    std::vector<at::Tensor> *hiddenStates = nullptr; // receives the residual stream after each block
    // hidden() returns only the last position, [batch, 1, hidden]: the last layer computes its
    // keys and values for every position (into the cache) but its queries, attention output and
    // MLP for the last position alone. Prefill needs no more (its next token reads the last
    // position), and skips ~a fifth of its products on the built-in reasoner. The last entry of
    // hiddenStates is then [batch, 1, hidden] too.
    bool lastPositionOnly = false;
};

class Transformer
{
public:
    explicit Transformer(ModelConfig config);

    // Loads config.json and the safetensors weights (single or sharded) of an HF model folder.
    static std::unique_ptr<Transformer> load(const std::filesystem::path &dir);

    // Normal(0, std) weights, ones for norms; deterministic for a seed.
    void initRandom(uint64_t seed, double std = 0.02);

    // Writes config.json and model.safetensors (float32, HF names) atomically.
    void save(const std::filesystem::path &dir) const;

    const ModelConfig &config() const { return m_config; }

    // ids: [batch, seq] int64 -> logits [batch, seq, vocab] float32.
    at::Tensor forward(const at::Tensor &ids, const ForwardOptions &options = {});

    // Residual stream before the final norm: [batch, seq, hidden]; forward() = lmHead(norm(this)).
    at::Tensor hidden(const at::Tensor &ids, const ForwardOptions &options = {});

    // Final norm and lm_head: hidden [..., hidden] -> logits [..., vocab] float32.
    at::Tensor head(const at::Tensor &hidden);

    std::vector<std::string> linearNames() const;
    LinearOp &linear(const std::string &name) const;
    std::shared_ptr<LinearOp> linearPtr(const std::string &name) const;
    void setLinear(const std::string &name, std::shared_ptr<LinearOp> op);

    // Non-linear tensors by HF name (embeddings, norms).
    std::map<std::string, at::Tensor> &tensors() { return m_tensors; }
    const std::map<std::string, at::Tensor> &tensors() const { return m_tensors; }

    // Every trainable tensor (embeddings, norms, and what the LinearOps expose).
    std::vector<at::Tensor> parameters();

    // Bytes of all weights as they are stored now (quantized ops count packed bytes).
    int64_t weightBytes() const;

private:
    // Keys and values of every position of x; queries (and the output) of every position, or of
    // the last one alone with lastQueryOnly.
    at::Tensor attention(int64_t layer, const at::Tensor &x, const at::Tensor &cos,
                         const at::Tensor &sin, const at::Tensor &mask, KVCache *cache,
                         bool lastQueryOnly = false);
    at::Tensor mlp(int64_t layer, const at::Tensor &x);
    at::Tensor rmsNorm(const at::Tensor &x, const std::string &weightName) const;
    void createTensors();

    ModelConfig m_config;
    std::map<std::string, at::Tensor> m_tensors;
    std::map<std::string, std::shared_ptr<LinearOp>> m_linears;
    std::vector<std::string> m_linearOrder;
    at::Tensor m_invFreq; // [head_dim / 2]
};

// "model.layers.{layer}.{suffix}"
std::string layerName(int64_t layer, const std::string &suffix);

} // namespace qb
