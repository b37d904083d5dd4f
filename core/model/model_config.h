// ModelConfig: the architecture of a Llama-family decoder as read from a Hugging Face config.json:
// Llama (also SmolLM2, Llama 3 with its rope_scaling), Mistral (sliding window), Qwen2/2.5 (q/k/v
// bias, optional sliding window; also DeepSeek-R1-Distill-Qwen) and Qwen3 (per-head q/k RMSNorm).
// Plain data, std-only; copy freely between threads.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace qb {

struct ModelConfig
{
    std::string modelType = "llama"; // "llama", "mistral", "qwen2" or "qwen3"
    int64_t vocabSize = 0;
    int64_t hiddenSize = 0;
    int64_t intermediateSize = 0;
    int64_t numLayers = 0;
    int64_t numHeads = 0;
    int64_t numKvHeads = 0;
    int64_t headDim = 0; // hidden_size / num_attention_heads unless config.json says head_dim
    int64_t maxPositions = 2048;
    double rmsNormEps = 1e-6;
    double ropeTheta = 10000.0;
    // config.json's rope_scaling as given (null: plain rotary). Supported rope types: "default",
    // "linear" (frequencies / factor) and "llama3" (transformers' _compute_llama3_parameters).
    nlohmann::json ropeScaling;
    bool tieWordEmbeddings = false;
    bool qkvBias = false; // Qwen2: q/k/v carry a bias; Llama's attention_bias adds it to o too
    bool oBias = false;
    bool mlpBias = false;
    bool qkNorm = false;  // Qwen3: q_norm / k_norm ([head_dim] RMSNorm per head before rotary)
    // A query at position i sees keys j with i - slidingWindow < j <= i in the layers from
    // windowFromLayer on (Mistral: all; Qwen2/3: max_window_layers on, when use_sliding_window).
    // 0 = no window.
    int64_t slidingWindow = 0;
    int64_t windowFromLayer = 0;
    int64_t bosTokenId = -1;
    std::vector<int64_t> eosTokenIds;
    int64_t padTokenId = -1;

    // Reads the keys above from a config.json object; `where` names the file in error messages.
    // Throws qb::Error for an architecture, activation or rope type this decoder does not run.
    static ModelConfig fromJson(const nlohmann::json &j, const std::string &where);
    static ModelConfig load(const std::filesystem::path &configJson);
    nlohmann::json toJson() const;

    // Whether layer `layer` attends through the sliding window.
    bool slidingLayer(int64_t layer) const { return slidingWindow > 0 && layer >= windowFromLayer; }

    // Number of parameters (embeddings and lm_head included once each; tied counts once).
    int64_t parameterCount() const;
};

// The rotary inverse frequencies [head_dim / 2] of a config, rope_scaling applied, in double.
std::vector<double> ropeInverseFrequencies(const ModelConfig &config);

} // namespace qb
