// Perplexity of a causal language model on a token stream with fixed-length sliding windows, the
// way transformers documents it ("Perplexity of fixed-length models"): windows of `window` tokens
// start every `stride` tokens, and each window scores only the tokens no earlier window scored, so
// with stride < window every token but the first is predicted exactly once, from at least
// window - stride tokens of context where the text allows. With stride = window (disjoint
// windows, the cheapest and the least context) each window's first token goes unscored. The seed articles' main quantization metric beside accuracy.
// Thread safety: uses the model (one thread at a time).
#pragma once
#include "api/work.h"
#include "model/transformer.h"

#include <cstdint>
#include <vector>

namespace qb::eval {

struct PerplexityOptions
{
    int64_t window = 0; // tokens per forward pass; 0 = the model's max_position_embeddings
    int64_t stride = 0; // tokens between window starts; 0 = window / 2
};

struct PerplexityResult
{
    int64_t tokens = 0;    // length of the stream
    int64_t predicted = 0; // tokens scored (tokens - 1 when stride < window)
    int64_t windows = 0;   // forward passes
    int64_t window = 0;    // as used (defaults resolved)
    int64_t stride = 0;
    double nll = 0;        // summed negative log-likelihood, nats
    double meanNll() const { return predicted > 0 ? nll / double(predicted) : 0.0; }
    double perplexity() const; // exp(meanNll())
};

// Throws qb::Error for fewer than 2 tokens, a window above the model's positions, or a stride
// outside 1..window. Polls hooks between windows (qb::Cancelled) and reports windows done.
PerplexityResult perplexity(Transformer &model, const std::vector<int64_t> &ids,
                            const PerplexityOptions &options, const WorkHooks &hooks = {});

} // namespace qb::eval
