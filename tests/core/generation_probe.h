// Std-only bridge from tst_generation (Qt Test) to generation and the KV cache (generation_probe.cpp,
// torch side).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace genprobe {

using Tokens = std::vector<std::vector<int64_t>>;

struct Run
{
    int prompts = 40;         // the first generated GSM-style test questions
    int64_t batch = 16;       // rows decoded together
    bool useCache = true;
    bool refill = true;
    std::string quant;        // "" (fp32) or a method name quantizing every linear
    std::string kvCache = "fp32";
    std::string strategy = "greedy";
    uint64_t seed = 0;
    int64_t maxNewTokens = 96;
};

// The shipped tiny-reasoner (resources/) generating for run.prompts prompts (no stop strings;
// the end token ends a row).
Tokens generateShipped(const Run &run);

// The same run with GenerationHooks::stats: the prompt tokens it prefilled and their seconds,
// beside the prompts' token count as encoded here.
struct PrefillCount
{
    int64_t promptTokens = 0;
    int64_t prefillTokens = 0;
    double prefillSeconds = 0;
};
PrefillCount prefillCount(const Run &run);

// Quantizes `values` (rows of headDim values) the KV-cache way and decodes it again; scales gets
// one scale per row.
std::vector<float> kvRoundTrip(const std::vector<float> &values, int64_t headDim,
                               const std::string &format, std::vector<float> *scales);

// Writes `steps` positions through a KVCache of the given format (rows of equal length, then a
// second batch of shorter rows appended and decoded one position at a time) and returns the largest
// |stored - written| over everything, divided by the bound the format states per element.
double kvCacheWriteErrorOverBound(const std::string &format);

// ForwardOptions::lastPositionOnly on the shipped model: a left-padded batch of four prompts
// prefilled into a cache with it, against the full prefill's last position. Returns the largest
// |difference| of the hidden states and of the cache contents, with the fused kernels on or off.
struct LastPositionDiff
{
    double hidden = 0, cache = 0;
    int64_t returnedPositions = 0; // positions in the returned hidden state
};
LastPositionDiff lastPositionOnlyDiff(bool fused);

// DenseLinear's packed copies against their budget (model/linear.h): a 64x48 layer (12 KiB
// packed) run under a budget of 8 KiB, then 1 MiB, then released; the bytes held after each
// step, whether each result equals at::linear within 1e-5, and the budget restored afterwards.
struct PackedBudgetRun
{
    int64_t heldUnder8k = -1, heldUnder1m = -1, heldAfterCopy = -1, heldAfterRelease = -1;
    bool resultsMatch = false;
};
PackedBudgetRun packedBudget();

// Bytes per position (one row, all layers) of the shipped model's KV cache in a format.
int64_t kvBytesPerPosition(const std::string &format);

} // namespace genprobe
