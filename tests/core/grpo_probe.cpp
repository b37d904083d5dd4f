#include "grpo_probe.h"

#include "train/grpo_loss.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

namespace qbprobe {

namespace {

at::Tensor tensor(const std::vector<float> &v, std::vector<int64_t> shape)
{
    return at::tensor(at::ArrayRef<float>(v), at::kFloat).reshape(shape);
}

std::vector<float> vec(const at::Tensor &t)
{
    const at::Tensor c = t.detach().to(at::kFloat).contiguous();
    return {c.data_ptr<float>(), c.data_ptr<float>() + c.numel()};
}

} // namespace

std::vector<float> grpoAdvantages(const std::vector<float> &rewards, int64_t groupSize,
                                  qb::AdvantageScale scale)
{
    return vec(qb::grpoAdvantages(tensor(rewards, {int64_t(rewards.size())}), groupSize, scale));
}

double k3(float logp, float ref)
{
    return qb::k3Kl(tensor({logp}, {1}), tensor({ref}, {1})).item<double>();
}

GrpoRun grpoRun(const std::vector<float> &policy, const std::vector<float> &old,
                const std::vector<float> &ref, const std::vector<float> &mask,
                const std::vector<float> &rewards, int64_t b, int64_t t,
                const qb::GrpoConfig &config)
{
    at::Tensor p = tensor(policy, {b, t}).requires_grad_(true);
    const qb::GrpoLoss l = qb::grpoLoss(p, tensor(old, {b, t}),
                                        ref.empty() ? at::Tensor() : tensor(ref, {b, t}),
                                        tensor(mask, {b, t}), tensor(rewards, {b}), config);
    l.loss.backward();
    GrpoRun r;
    r.loss = l.loss.item<double>();
    r.meanKl = l.meanKl;
    r.clipFraction = l.clipFraction;
    r.clipLow = l.clipLow;
    r.clipHigh = l.clipHigh;
    r.advantages = vec(l.advantages);
    r.grad = vec(p.grad());
    return r;
}

} // namespace qbprobe

// ---- the training loop (train/grpo.h) --------------------------------------------------------
#include "data/gsm_generator.h"
#include "eval/evaluator.h"
#include "model/model_bundle.h"
#include "quant/method_spec.h"
#include "quant/quantize_model.h"
#include "support/test_support.h"
#include "train/grpo.h"
#include "train/lora.h"
#include "util/error.h"

namespace qbprobe {

namespace {

double sampledAccuracy(const qb::ModelBundle &bundle, const qb::eval::QuestionSet &set)
{
    qb::eval::EvalOptions o;
    o.decoding.strategy = "sample";
    o.decoding.temperature = 1.5;
    o.decoding.maxNewTokens = 120;
    o.batchSize = 64;
    double correct = 0;
    const int samples = 16;
    for (int k = 0; k < samples; ++k) {
        o.decoding.seed = 99 + k;
        correct += qb::eval::evaluate(qb::eval::refOf(bundle), set, o).summary.accuracy();
    }
    return correct / samples;
}

} // namespace

GrpoMicro runGrpoMicro(int steps, double lr, double beta, int stopAt, const std::string &resumeDir,
                       bool measure, int problems)
{
    GrpoMicro run;
    qb::ModelBundle bundle =
        qb::loadModelBundle(qbtest::sourceDir() / "resources" / "tiny-reasoner");
    qb::QuantSpec spec;
    spec.method = qb::MethodSpec::fromJson({{"method", "int"}, {"bits", 2}, {"group_size", 64}},
                                           "probe");
    qb::quantizeModel(*bundle.model, spec, {});
    qb::data::GsmGeneratorOptions g;
    const auto train = qb::eval::gsmQuestions(
        qb::data::recordsOf(qb::data::generateGsmProblems(g, qb::data::Split::Train, problems)), {});
    const qb::GrpoRecipe r = qb::GrpoRecipe::fromJson(
        {{"steps", steps}, {"prompts_per_step", 4}, {"num_generations", 8}, {"lr", lr},
         {"beta", beta}, {"max_completion_length", 120}, {"eval_every", 0},
         {"temperature", 1.5}, {"rewards", {{"correctness", 1.0}, {"steps", 0.5}}},
         {"checkpoint_every", 2}, {"rank", 8}, {"alpha", 16}});
    if (measure)
        run.before = sampledAccuracy(bundle, train);
    qb::GrpoHooks hooks;
    hooks.onStep = [&](const qb::GrpoStepStats &s) {
        run.rewards.push_back(s.reward);
        run.kl.push_back(s.kl);
        if (stopAt >= 0 && s.step == stopAt)
            throw qb::Cancelled();
    };
    try {
        const auto result = qb::grpoTrain(bundle, r, {train}, {}, resumeDir, hooks);
        run.summaryJson = result.summary.dump();
    } catch (const std::exception &e) {
        run.error = e.what();
        return run;
    }
    for (auto &[name, op] : qb::loraLayers(*bundle.model))
        for (const at::Tensor *t : {&op->loraA(), &op->loraB()}) {
            const at::Tensor c = t->detach().contiguous().reshape({-1});
            run.adapters.insert(run.adapters.end(), c.data_ptr<float>(),
                                c.data_ptr<float>() + c.numel());
        }
    if (measure)
        run.after = sampledAccuracy(bundle, train);
    return run;
}

} // namespace qbprobe
