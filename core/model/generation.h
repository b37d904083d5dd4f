// Batched autoregressive generation over a Transformer: prompts of different lengths are left-padded
// into one batch, decoded with a KV cache written in place (model/kv_cache.h), and each row stops
// at an end token, a stop condition or max_new_tokens. With more prompts than rows decoded
// together, finished rows leave the batch and (DecodingConfig::refill) waiting prompts take their
// places, prefilled together. Runs on the calling thread; uses the model exclusively while it runs.
#pragma once
#include "api/decoding.h"
#include "api/work.h"
#include "model/transformer.h"

#include <functional>
#include <vector>

namespace qb {

// What a call spent on prompts: the prompt tokens prefilled (pads not counted) and the seconds
// those prefills took (forward, head and the first token's choice), summed over every prefill of
// the call (one per batch, and one per refill). Left untouched by the no-cache reference path,
// which has no separate prefill.
struct GenerationStats
{
    int64_t prefillTokens = 0;
    double prefillSeconds = 0;
};

struct GenerationHooks
{
    // Called after each new token of a row; true ends that row (e.g. a stop string was produced).
    std::function<bool(size_t row, const std::vector<int64_t> &generated)> shouldStop;
    // Called once per prompt when its row has finished.
    std::function<void(size_t row)> onFinished;
    // Polled and given (finished prompts, prompts) once per decoding step; cancellation aborts.
    WorkHooks work;
    // Added to when set.
    GenerationStats *stats = nullptr;
};

// prompts: token ids per row (non-empty). Returns the generated ids per row, end token excluded.
std::vector<std::vector<int64_t>> generate(Transformer &model,
                                           const std::vector<std::vector<int64_t>> &prompts,
                                           const DecodingConfig &config,
                                           const std::vector<int64_t> &endTokens,
                                           const GenerationHooks &hooks = {});

// The same with at most maxRows rows decoded together (the row index of hooks is the prompt's).
std::vector<std::vector<int64_t>> generate(Transformer &model,
                                           const std::vector<std::vector<int64_t>> &prompts,
                                           const DecodingConfig &config,
                                           const std::vector<int64_t> &endTokens, int64_t maxRows,
                                           const GenerationHooks &hooks = {});

// Picks the next token per row from logits [batch, vocab] float32 according to config.
at::Tensor selectNextTokens(const at::Tensor &logits, const DecodingConfig &config,
                            at::Generator &generator);

} // namespace qb
