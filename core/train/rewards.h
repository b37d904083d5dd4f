// Reward functions for GRPO rollouts, each one a separate component so that every one can be
// logged on its own, combined as a weighted sum (TRL's reward_funcs + reward_weights):
//   correctness  1 when the strict extraction equals the gold answer (GSM number, GPQA letter),
//                the same extraction and comparison as evaluation (eval::scoreCompletion)
//   format       1 when the strict answer line is present at all ("#### N", "The answer is X")
//   length       DAPO's soft overlong punishment (Yu et al. 2025, eq. 13): 0 up to
//                maxTokens - buffer tokens, then falling linearly to -1 at maxTokens; a completion
//                cut off by maxTokens (no end token, no stop string) gets -1
//   steps        GSM: the fraction of the reference chain's intermediate results reproduced in
//                order (data::scoreSteps); 0 for GPQA
// Std-only and pure.
#pragma once
#include "eval/question_set.h"

#include <array>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace qb {

enum class RewardPart { Correctness, Format, Length, Steps };
constexpr int kRewardParts = 4;
const char *rewardPartName(RewardPart part); // "correctness", "format", "length", "steps"

struct RewardConfig
{
    std::array<double, kRewardParts> weights{1.0, 0.0, 0.0, 0.0};
    int64_t overlongBuffer = 32; // length: tokens before maxTokens where the penalty ramps

    double weight(RewardPart p) const { return weights[static_cast<int>(p)]; }
    // Keys correctness, format, length, steps (weights, >= 0 each, not all 0) and
    // overlong_buffer; unknown keys and wrong types throw qb::Error naming `where` and the key.
    static RewardConfig fromJson(const nlohmann::json &j, const std::string &where);
};

struct Rollout
{
    std::string text;      // the completion, cut at its stop string
    int64_t tokens = 0;    // generated tokens (the end token, when produced, included)
    bool truncated = false; // stopped by maxTokens, not by an end token or a stop string
};

struct RewardScore
{
    std::array<double, kRewardParts> parts{}; // unweighted components
    double total = 0;                         // sum of weight * component

    double part(RewardPart p) const { return parts[static_cast<int>(p)]; }
};

// Scores completion r of question i of set. maxTokens is the rollout's max_new_tokens.
RewardScore scoreRollout(const eval::QuestionSet &set, size_t i, const Rollout &r,
                         int64_t maxTokens, const RewardConfig &config);

} // namespace qb
