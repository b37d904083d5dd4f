#include "train/lm_trainer.h"

#include "util/error.h"

#include <ATen/autocast_mode.h>

#include <chrono>
#include <cmath>

namespace qb {

at::Tensor lmLoss(const at::Tensor &logits, const at::Tensor &targets)
{
    const int64_t vocab = logits.size(-1);
    return at::cross_entropy_loss(logits.reshape({-1, vocab}).to(at::kFloat), targets.reshape({-1}),
                                  {}, at::Reduction::Mean, -100);
}

std::pair<std::vector<at::Tensor>, std::vector<bool>> trainableWithDecay(Transformer &model)
{
    std::vector<at::Tensor> params;
    std::vector<bool> decay;
    for (auto &[name, t] : model.tensors()) {
        params.push_back(t);
        decay.push_back(false);
    }
    for (const auto &name : model.linearNames()) {
        if (name == "lm_head" && model.config().tieWordEmbeddings)
            continue;
        for (auto &t : model.linear(name).trainableParameters()) {
            params.push_back(t);
            decay.push_back(t.dim() >= 2);
        }
    }
    return {params, decay};
}

namespace {

// Enables CPU bf16 autocast for its lifetime.
class AutocastScope
{
public:
    explicit AutocastScope(bool on) : m_on(on)
    {
        if (m_on) {
            at::autocast::set_cpu_enabled(true);
            at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
        }
    }
    ~AutocastScope()
    {
        if (m_on) {
            at::autocast::set_cpu_enabled(false);
            at::autocast::clear_cache();
        }
    }

private:
    bool m_on;
};

} // namespace

double trainLm(Transformer &model, const TrainConfig &config, const TrainHooks &hooks,
               int64_t startStep, AdamW *resumeOptimizer)
{
    if (!hooks.batch)
        throw Error("trainLm: no batch source");
    auto [params, decay] = trainableWithDecay(model);
    for (auto &p : params)
        p.requires_grad_(true);
    std::unique_ptr<AdamW> own;
    AdamW *opt = resumeOptimizer;
    if (!opt) {
        own = std::make_unique<AdamW>(params, decay, config.adam);
        opt = own.get();
    }
    double lastLoss = NAN;
    for (int64_t step = startStep; step < config.steps; ++step) {
        hooks.work.poll();
        const auto t0 = std::chrono::steady_clock::now();
        const LmBatch b = hooks.batch(step);
        const double lr = warmupCosineLr(step, config.warmupSteps, config.steps, config.lr,
                                         config.minLrRatio);
        opt->zeroGrad();
        at::Tensor loss;
        {
            AutocastScope autocast(config.bf16);
            // The head runs only where there is a target: most prompt positions have none, and
            // the vocabulary projection is a large share of a small model's work.
            const auto flatTargets = b.targets.reshape({-1});
            const auto where = flatTargets.ne(-100).nonzero().squeeze(1);
            const auto h = model.hidden(b.ids);
            const auto picked = h.reshape({-1, h.size(-1)}).index_select(0, where);
            loss = lmLoss(model.head(picked), flatTargets.index_select(0, where));
        }
        loss.backward();
        if (hooks.afterBackward)
            hooks.afterBackward();
        const double gradNorm = opt->clipGradNorm(config.gradClip);
        opt->step(lr);
        if (hooks.afterUpdate)
            hooks.afterUpdate();
        lastLoss = loss.item<double>();
        if (!std::isfinite(lastLoss))
            throw Error("training diverged at step " + std::to_string(step) + " (loss "
                        + std::to_string(lastLoss) + "); lower the learning rate");
        const double secs =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (hooks.onStep)
            hooks.onStep(step, lastLoss, lr, gradNorm, secs > 0 ? double(b.ids.numel()) / secs : 0);
        if (hooks.onEval && config.evalEvery > 0 && (step + 1) % config.evalEvery == 0)
            hooks.onEval(step + 1);
        if (hooks.onCheckpoint && config.checkpointEvery > 0
            && (step + 1) % config.checkpointEvery == 0 && step + 1 < config.steps)
            hooks.onCheckpoint(step + 1, *opt);
    }
    for (auto &p : params)
        p.requires_grad_(false);
    return lastLoss;
}

} // namespace qb
