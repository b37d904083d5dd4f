// Std-only bridge from tst_hf_families (Qt Test) to the transformer (hf_families_probe.cpp, torch
// side), and the naive reference the loaded models are compared with: a Llama-family decoder
// written out per token, per head and per key in double precision (RMSNorm, rotary embeddings with
// the family's frequencies, causal or sliding-window attention with grouped-query heads, SwiGLU).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace hfprobe {

struct Tensor
{
    std::vector<int64_t> shape;
    std::vector<float> data;
};
// HF tensor names -> values, as written to model.safetensors.
using Weights = std::map<std::string, Tensor>;

// What the naive reference needs besides the weights. Which biases, q/k norms and whether the head
// is tied it takes from the tensors present (a loader that ignores one of them disagrees).
struct Arch
{
    int64_t layers = 2, heads = 4, kvHeads = 2, headDim = 8;
    double eps = 1e-6, theta = 10000.0;
    std::string ropeType = "default"; // "default", "linear" or "llama3"
    double factor = 1, lowFreqFactor = 1, highFreqFactor = 4, originalMax = 8192;
    int64_t window = 0;          // 0: full causal attention
    int64_t windowFromLayer = 0; // first layer that uses the window
};

// Logits [ids.size() * vocab] of the naive decoder.
std::vector<float> naiveLogits(const Arch &arch, const Weights &w, const std::vector<int64_t> &ids);

// Greedy continuation of `prompt` by `steps` tokens, each one the naive logits' argmax.
std::vector<int64_t> naiveGreedy(const Arch &arch, const Weights &w, std::vector<int64_t> prompt,
                                 int steps);

// Transformer::load(dir), one forward over ids: logits [ids.size() * vocab].
std::vector<float> loadedLogits(const std::string &dir, const std::vector<int64_t> &ids);

// The same model with a KV cache: the first `prefill` ids in one forward, then one id per forward.
std::vector<float> cachedLogits(const std::string &dir, const std::vector<int64_t> &ids,
                                int64_t prefill);

// qb::generate, greedy, steps[k] new tokens for prompt k (no end tokens; a stop hook ends each
// row), `rows` rows decoded together (left-padded), with or without the KV cache; with `refill`
// a finished row's place goes to the next prompt, so the cache holds rows of different lengths.
std::vector<std::vector<int64_t>> generateGreedy(const std::string &dir,
                                                 const std::vector<std::vector<int64_t>> &prompts,
                                                 const std::vector<int> &steps, int64_t rows,
                                                 bool useCache, bool refill = false);

// Transformer::load(from) then save(to) (config.json written back by ModelConfig::toJson).
void resave(const std::string &from, const std::string &to);

// The message of the qb::Error that Transformer::load(dir) throws; "" when it loads.
std::string loadError(const std::string &dir);

// loadModelBundle(dir): its model's logits over ids and the generation defaults it read.
struct BundleView
{
    std::vector<float> logits;
    std::vector<int64_t> endTokens;
    bool doSample = false;
    double temperature = 1, topP = 1;
    int64_t topK = 0;
    int64_t maxNewTokens = -1; // -1: not given
    std::string architecture;  // architectures[0] of the model's config written back
};
BundleView loadBundle(const std::string &dir, const std::vector<int64_t> &ids);

} // namespace hfprobe
