// The GRPO objective's numbers for a batch given as plain arrays, for torch-free callers (the
// CLI's `rl loss`). Wraps grpoLoss() (grpo_loss.h) and also returns the gradient, so a caller can
// see which tokens the clipping silenced.
// Thread safety: a pure function (uses torch's intra-op threads).
#pragma once
#include "train/grpo_config.h"

#include <cstdint>
#include <vector>

namespace qb {

// Row-major float32 arrays. policyLogps, oldLogps, refLogps and mask are [batch, tokens];
// oldLogps empty: equal to policyLogps; refLogps empty: no reference (only with beta == 0);
// mask holds 0 or 1; rewards is [batch].
struct GrpoBatch
{
    int64_t batch = 0;
    int64_t tokens = 0;
    std::vector<float> policyLogps;
    std::vector<float> oldLogps;
    std::vector<float> refLogps;
    std::vector<float> mask;
    std::vector<float> rewards;
};

struct GrpoReport
{
    double loss = 0;
    double meanKl = 0;
    double clipFraction = 0; // see GrpoLoss: clipLow + clipHigh
    double clipLow = 0;
    double clipHigh = 0;
    std::vector<float> advantages; // [batch]
    std::vector<float> gradient;   // d loss / d policyLogps, [batch, tokens]
};

// Throws qb::Error (as grpoLoss) for wrong sizes or settings.
GrpoReport evaluateGrpo(const GrpoBatch &batch, const GrpoConfig &config);

} // namespace qb
