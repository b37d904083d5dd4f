// Causal language-model training of a Transformer: the whole loop written out (torchtune style) —
// batches from a caller's function, next-token cross-entropy with ignored positions, AdamW with
// warm-up + cosine schedule, gradient clipping, optional bf16 autocast, periodic evaluation and
// checkpoint callbacks, cooperative cancellation. Runs on the calling thread.
#pragma once
#include "api/work.h"
#include "model/transformer.h"
#include "train/adamw.h"

#include <ATen/ATen.h>

#include <functional>

namespace qb {

struct TrainConfig
{
    int64_t steps = 1000;
    double lr = 3e-3;
    double minLrRatio = 0.1;
    int64_t warmupSteps = 100;
    double gradClip = 1.0;
    bool bf16 = false; // CPU autocast of matrix products to bfloat16 (AMX where present)
    int64_t evalEvery = 0;
    int64_t checkpointEvery = 0;
    AdamWConfig adam;
};

// ids: [batch, seq] int64 tokens; targets: [batch, seq] int64 next tokens, -100 where ignored.
struct LmBatch
{
    at::Tensor ids;
    at::Tensor targets;
};

struct TrainHooks
{
    std::function<LmBatch(int64_t step)> batch;                     // required
    std::function<void(int64_t step, double loss, double lr, double gradNorm,
                       double tokensPerSecond)> onStep;            // after each optimiser step
    std::function<void(int64_t step)> onEval;                       // every evalEvery steps
    std::function<void(int64_t step, AdamW &optimizer)> onCheckpoint; // every checkpointEvery
    std::function<void()> afterBackward; // gradients are there, not yet clipped
    std::function<void()> afterUpdate;   // the optimiser has stepped
    WorkHooks work; // polled before each step (cancellation); progress is the caller's (onStep)
};

// Mean cross-entropy over positions whose target is not -100. logits: [batch, seq, vocab].
at::Tensor lmLoss(const at::Tensor &logits, const at::Tensor &targets);

// Trains model in place from step `startStep` (to resume: pass the optimiser restored from a
// checkpoint). Returns the last loss.
double trainLm(Transformer &model, const TrainConfig &config, const TrainHooks &hooks,
               int64_t startStep = 0, AdamW *resumeOptimizer = nullptr);

// Parameters and their weight-decay flags as trainLm uses them (matrices decay; norms, biases,
// embeddings do not).
std::pair<std::vector<at::Tensor>, std::vector<bool>> trainableWithDecay(Transformer &model);

} // namespace qb
