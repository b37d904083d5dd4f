// Std-only bridge from tst_perplexity (Qt Test) to eval/perplexity.h and a naive reference in
// perplexity_probe.cpp (torch side).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace pplprobe {

struct Scored
{
    double nll = 0;
    int64_t predicted = 0;
    int64_t windows = 0;
    double perplexity = 0;
    std::string error; // qb::Error's message when the call threw
};

// eval::perplexity on a fixed random tiny model (vocab 40, 32 positions) and `ids`.
Scored library(const std::vector<int64_t> &ids, int64_t window, int64_t stride);

// Reference, one forward per scored token: token t is scored from the context
// ids[contextStart(t) .. t-1], the full sequence up to it when it fits in `window`. contextStarts
// gives each scored token's start (tokens with start < 0 are not scored).
double naiveNll(const std::vector<int64_t> &ids, const std::vector<int64_t> &contextStarts);

// The same model with lm_head set to zeros (every next token equally likely): its perplexity.
double uniformModelPerplexity(const std::vector<int64_t> &ids, int64_t window, int64_t stride);

} // namespace pplprobe
