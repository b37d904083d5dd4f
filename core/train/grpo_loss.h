// The GRPO objective for one batch of scored completions, as TRL's GRPOTrainer computes it
// (trl/trainer/grpo_trainer.py: _generate_and_score_completions for the advantages,
// _compute_loss for the loss): group-relative advantages, the PPO-clipped surrogate with a
// separate low and high epsilon, an optional k3 KL penalty to a reference policy, and the four
// aggregations of grpo_config.h. The rollout that produces the log-probabilities lives elsewhere.
// Thread safety: pure functions (they use torch's intra-op threads).
#pragma once
#include "train/grpo_config.h"

#include <ATen/ATen.h>

namespace qb {

// rewards: [B] any float dtype, B = prompts * groupSize with each prompt's completions
// consecutive. Returns [B] float32 advantages (see AdvantageScale; eps = 1e-4 as TRL).
// Throws qb::Error when B is not a positive multiple of groupSize or groupSize < 2.
at::Tensor grpoAdvantages(const at::Tensor &rewards, int64_t groupSize, AdvantageScale scale);

// The k3 estimate of KL(policy || ref) per token (Schulman, "Approximating KL divergence"):
// exp(ref - logp) - (ref - logp) - 1, >= 0. logp, ref: same shape, log-probabilities in nats.
at::Tensor k3Kl(const at::Tensor &logp, const at::Tensor &ref);

struct GrpoLoss
{
    at::Tensor loss;            // scalar float32, differentiable w.r.t. policyLogps
    double meanKl = 0;          // masked mean of k3 over completion tokens; 0 when beta == 0
    // Fraction of completion tokens where the clipped term is the one min() takes, so the token
    // gives no gradient: ratio < 1 - epsilonLow with A < 0 (clipLow) or ratio > 1 + epsilonHigh
    // with A > 0 (clipHigh). clipFraction = clipLow + clipHigh, TRL's clip_ratio/region_mean;
    // clipLow and clipHigh are TRL's clip_ratio/low_mean and clip_ratio/high_mean.
    double clipFraction = 0;
    double clipLow = 0;
    double clipHigh = 0;
    at::Tensor advantages;      // [B] float32
};

// policyLogps: [B, T] float32 log-probabilities (nats) of the completion tokens under the policy
//              being trained, usually requiring grad.
// oldLogps:    [B, T] the same under the policy that sampled them (not differentiated); equal to
//              policyLogps (detached) for one update per batch, where the ratio is 1.
// refLogps:    [B, T] under the reference policy; may be undefined when beta == 0.
// mask:        [B, T] 1 for completion tokens, 0 for padding; any numeric dtype. The logps at
//              padding are ignored (any value, also inf or NaN; their gradient is 0).
// rewards:     [B] one scalar reward per completion.
// Throws qb::Error naming the argument for wrong shapes, a missing reference with beta > 0, or
// a B that is not a multiple of config.groupSize.
GrpoLoss grpoLoss(const at::Tensor &policyLogps, const at::Tensor &oldLogps,
                  const at::Tensor &refLogps, const at::Tensor &mask, const at::Tensor &rewards,
                  const GrpoConfig &config);

} // namespace qb
