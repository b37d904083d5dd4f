// Batched autoregressive generation over a Transformer: prompts of different lengths are left-padded
// into one batch, decoded with a KV cache, and each row stops at an end token, a stop condition or
// max_new_tokens. Runs on the calling thread; uses the model exclusively while it runs.
#pragma once
#include "api/decoding.h"
#include "api/work.h"
#include "model/transformer.h"

#include <functional>
#include <vector>

namespace qb {

struct GenerationHooks
{
    // Called after each new token of a row; true ends that row (e.g. a stop string was produced).
    std::function<bool(size_t row, const std::vector<int64_t> &generated)> shouldStop;
    // Polled and given (step, max_new_tokens) once per decoding step; cancellation aborts.
    WorkHooks work;
};

// prompts: token ids per row (non-empty). Returns the generated ids per row, end token excluded.
std::vector<std::vector<int64_t>> generate(Transformer &model,
                                           const std::vector<std::vector<int64_t>> &prompts,
                                           const DecodingConfig &config,
                                           const std::vector<int64_t> &endTokens,
                                           const GenerationHooks &hooks = {});

// Picks the next token per row from logits [batch, vocab] float32 according to config.
at::Tensor selectNextTokens(const at::Tensor &logits, const DecodingConfig &config,
                            at::Generator &generator);

} // namespace qb
