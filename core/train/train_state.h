// What the training recipes (finetune.h, grpo.h) share: resumable checkpoints of trainable
// tensors with their AdamW moments, the process's peak memory, and greedy scoring of held-out
// question sets through the evaluation library.
// Free functions; call on the training thread.
#pragma once
#include "api/work.h"
#include "eval/question_set.h"
#include "model/model_bundle.h"
#include "train/adamw.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <utility>
#include <string>
#include <vector>

namespace qb {

// Held-out questions evaluated every evalEvery steps (greedy, batch 64).
struct EvalSet
{
    std::string name;
    eval::QuestionSet questions;
    int64_t maxNewTokens = 160;
};

// Greedy accuracy of the bundle on each set, in the sets' order. Cancellation from work.
std::vector<std::pair<std::string, double>> scoreEvalSets(const ModelBundle &bundle,
                                            const std::vector<EvalSet> &sets,
                                            const WorkHooks &work);

// Writes dir/ckpt (state.safetensors with p.i / m.i / v.i, state.json with step, the optimizer's
// step count and `state`) atomically: the old checkpoint stays until the new one is complete.
void saveTrainCheckpoint(const std::filesystem::path &dir, const std::vector<at::Tensor> &params,
                         const AdamW &opt, int64_t step, const nlohmann::json &state);

// Restores params and opt from dir/ckpt; returns the step to continue from, 0 when there is no
// checkpoint (state untouched). Throws qb::Error naming the file and tensor when a tensor is
// missing or has another shape (the model changed since).
int64_t loadTrainCheckpoint(const std::filesystem::path &dir, const std::vector<at::Tensor> &params,
                            AdamW &opt, nlohmann::json *state);

// The process's peak resident memory (VmHWM) in MiB; 0 where /proc is absent.
double peakMemoryMiB();

} // namespace qb
