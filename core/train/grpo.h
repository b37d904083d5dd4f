// GRPO training (Shao et al. 2024, DeepSeekMath) of LoRA adapters over a frozen, possibly
// quantized base, with TRL GRPOTrainer's semantics: for each of promptsPerStep prompts, sample
// groupSize completions from the current policy (the evaluation library's batched generation,
// batched across the group), score them with the weighted reward components (train/rewards.h),
// turn the rewards into group-relative advantages, and take numIterations AdamW steps on the
// clipped surrogate with an optional k3 KL to the reference policy (train/grpo_loss.h).
//   Policy     the model's LoRA layers: those it arrives with (e.g. from QLoRA), else fresh
//              ones from recipe.lora. Adapter dropout is off: the ratio at the first update of a
//              batch is exactly 1, as in TRL with dropout disabled.
//   Reference  the adapters as they were at the start (so a QLoRA adapter is the reference of
//              the GRPO run over it; fresh adapters make it the base). Computed only when beta > 0.
//   Log-probs  of the tempered policy (logits / temperature), the distribution rollouts are drawn
//              from, as TRL computes them.
//   Actions    the generated ids; the end token counts as the last action when the policy chose
//              to stop (not when a stop string or max_new_tokens ended the row).
// Deterministic under (seed, thread count): the prompts of a step and its sampling seed depend
// only on (seed, step), so a run resumed from its checkpoint reaches the same adapters as one
// that was never interrupted. Runs on the calling thread and uses the model exclusively.
#pragma once
#include "api/decoding.h"
#include "api/work.h"
#include "model/model_bundle.h"
#include "train/grpo_config.h"
#include "train/lora.h"
#include "train/rewards.h"
#include "train/train_state.h"

#include <nlohmann/json.hpp>

#include <array>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace qb {

struct GrpoRecipe
{
    GrpoConfig objective;          // beta, epsilons, loss type, advantage scale, groupSize (G)
    RewardConfig rewards;
    DecodingConfig sampling;       // strategy "sample": temperature, top_p, top_k, max_new_tokens
    LoraConfig lora;               // adapters applied when the model has none
    int64_t steps = 100;
    int64_t promptsPerStep = 8;
    int64_t numIterations = 1;     // policy updates per batch of rollouts (TRL num_iterations)
    double lr = 2e-4;
    int64_t warmup = 0;
    std::string schedule = "constant"; // "constant" or "cosine" (to 10% after warm-up)
    double maxGradNorm = 1.0;
    int64_t evalEvery = 25;        // 0 = only at the end
    int64_t checkpointEvery = 10;
    uint64_t seed = 1234;

    // The grpo node's flat parameters (names as TRL spells them where it has them:
    // num_generations, beta, epsilon, epsilon_high, loss_type, scale_rewards, num_iterations,
    // temperature, top_p, top_k, max_completion_length). Throws qb::Error naming the key.
    static GrpoRecipe fromJson(const nlohmann::json &params);
};

// One optimizer step's measurements (TRL's logged metrics, where it has them).
struct GrpoStepStats
{
    int64_t step = 0;
    int64_t total = 0;
    double reward = 0;                              // mean total reward
    double rewardStd = 0;                           // mean over groups of the group's std
    std::array<double, kRewardParts> parts{};       // mean of each component, unweighted
    double fracZeroStd = 0;                         // groups whose rewards are all equal
    double accuracy = 0;                            // fraction of completions fully correct
    double kl = 0;                                  // masked mean k3 (0 when beta == 0)
    double entropy = 0;                             // masked mean token entropy (nats)
    double clipFraction = 0, clipLow = 0, clipHigh = 0;
    double completionLength = 0;                    // mean tokens
    double truncated = 0;                           // fraction stopped by max_new_tokens
    double lr = 0;
    double gradNorm = 0;                            // of the last update, before clipping
    double loss = 0;                                // of the first update
    double rolloutTokensPerSec = 0;
    double generationSeconds = 0;
    double updateSeconds = 0;
};

struct GrpoHooks
{
    std::function<void(const GrpoStepStats &)> onStep;
    std::function<void(int64_t step, const std::string &dataset, double accuracy)> onEval;
    WorkHooks work; // log lines and cancellation
};

struct GrpoResult
{
    nlohmann::json summary; // trainable parameters, minutes, time shares, history of every metric
    LoraConfig lora;        // the adapters' configuration (to save them)
};

// Trains the LoRA adapters of bundle.model in place (adding them first when it has none).
// train: the prompts' sources (GSM- or GPQA-style questions with gold answers). Throws
// qb::Error for an empty training set, a recipe that does not fit the model, or a loss that is not
// finite; qb::Cancelled from hooks.work (the last checkpoint stays in resumeDir).
GrpoResult grpoTrain(ModelBundle &bundle, const GrpoRecipe &recipe,
                     const std::vector<eval::QuestionSet> &train,
                     const std::vector<EvalSet> &evalSets,
                     const std::filesystem::path &resumeDir, const GrpoHooks &hooks);

} // namespace qb
