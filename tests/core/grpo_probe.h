// Std-only bridge from tst_grpo (Qt Test) to the torch-side GRPO objective (train/grpo_loss.h) in
// grpo_probe.cpp. Matrices are row-major std::vector<float>.
#pragma once
#include "train/grpo_config.h"

#include <cstdint>
#include <string>
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

namespace qbprobe {

struct GrpoMicro
{
    std::vector<double> rewards;      // mean reward per step
    std::vector<double> kl;           // per step
    double before = 0, after = 0;     // sampled accuracy on the training prompts (fixed seed)
    std::vector<float> adapters;      // every A and B, flattened in model order
    std::string summaryJson;
    std::string error;                // what grpoTrain threw ("" when it finished)
};

// GRPO on the shipped tiny reasoner quantized to INT2 g64, over `problems` generated GSM-style
// training problems (4 prompts x 8 completions a step at temperature 1.5, reward correctness +
// 0.5 per-step credit). With stopAt >= 0 the run is cancelled in the step callback of that step
// (as a killed run stops); resumeDir keeps checkpoints (every 2 steps). measure: the sampled
// accuracy on the training prompts before and after (16 samples each at temperature 1.5, fixed
// seeds).
GrpoMicro runGrpoMicro(int steps, double lr, double beta, int stopAt, const std::string &resumeDir,
                       bool measure, int problems = 16);

} // namespace qbprobe
