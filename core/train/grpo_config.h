// The settings of the GRPO objective (TRL's GRPOTrainer: loss_type, scale_rewards, beta,
// epsilon, epsilon_high, num_generations, max_completion_length) and their names as the CLI and
// YAML spell them. Std-only, so the CLI and the UI can hold a config without torch.
// All functions are pure and thread-safe.
#pragma once
#include <cstdint>
#include <string>

namespace qb {

// How the group-centred rewards A_i = r_i - mean(group of i) are divided (TRL scale_rewards):
// Group by the sample std (Bessel-corrected) of the group plus 1e-4, Batch by the sample std of
// all B rewards plus 1e-4, None not at all (Dr. GRPO).
enum class AdvantageScale { Group, Batch, None };

// How the per-token losses are averaged (TRL loss_type):
//   Grpo    mean over sequences of (sum over a sequence's tokens / its token count)
//   Bnpo    sum over all tokens / token count of the batch
//   Dapo    sum over all tokens / active tokens of the global batch; with one process and no
//           gradient accumulation (all we have) that is Bnpo
//   DrGrpo  sum over all tokens / (B * maxCompletionLength)
enum class LossType { Grpo, Bnpo, DrGrpo, Dapo };

struct GrpoConfig
{
    double beta = 0.0;        // weight of the k3 KL to the reference policy; 0: no reference
    double epsilonLow = 0.2;  // ratio clipped below at 1 - epsilonLow
    double epsilonHigh = 0.2; // ratio clipped above at 1 + epsilonHigh (DAPO suggests 0.28)
    LossType loss = LossType::Dapo;            // TRL's default since v0.22
    AdvantageScale scale = AdvantageScale::Group;
    int64_t groupSize = 0;                     // G completions per prompt, consecutive; >= 2
    int64_t maxCompletionLength = 0;           // DrGrpo's normaliser; 0: the batch's width T
};

// Spellings: "grpo", "bnpo", "dr_grpo", "dapo"; "group", "batch", "none". The parsers throw
// qb::Error naming the bad value and the choices.
std::string lossTypeName(LossType type);
LossType lossTypeFromName(const std::string &name);
std::string advantageScaleName(AdvantageScale scale);
AdvantageScale advantageScaleFromName(const std::string &name);

} // namespace qb
