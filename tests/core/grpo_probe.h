// Std-only bridge from tst_grpo (Qt Test) to the torch-side GRPO objective (train/grpo_loss.h) in
// grpo_probe.cpp. Matrices are row-major std::vector<float>.
#pragma once
#include "train/grpo_config.h"

#include <cstdint>
#include <vector>

namespace qbprobe {

std::vector<float> grpoAdvantages(const std::vector<float> &rewards, int64_t groupSize,
                                  qb::AdvantageScale scale);

// k3Kl on one token.
double k3(float logp, float ref);

struct GrpoRun
{
    double loss = 0, meanKl = 0, clipFraction = 0, clipLow = 0, clipHigh = 0;
    std::vector<float> advantages; // [B]
    std::vector<float> grad;       // d loss / d policy, [B, T], from loss.backward()
};

// grpoLoss on [b, t] tensors built from the arrays (ref empty: undefined), then backward().
GrpoRun grpoRun(const std::vector<float> &policy, const std::vector<float> &old,
                const std::vector<float> &ref, const std::vector<float> &mask,
                const std::vector<float> &rewards, int64_t b, int64_t t,
                const qb::GrpoConfig &config);

} // namespace qbprobe
