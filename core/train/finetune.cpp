#include "train/finetune.h"

#include "data/prompts.h"
#include "eval/evaluator.h"
#include "quant/int_group_linear.h"
#include "train/adamw.h"
#include "train/fake_quant.h"
#include "train/lm_trainer.h"
#include "train/train_state.h"
#include "util/error.h"
#include "util/files.h"

#include <algorithm>
#include <chrono>
#include <random>

namespace fs = std::filesystem;
using nlohmann::json;

namespace qb {

FinetuneRecipe FinetuneRecipe::fromJson(const json &p)
{
    FinetuneRecipe r;
    r.method = p.value("method", r.method);
    if (r.method != "qlora" && r.method != "qalora" && r.method != "qat")
        throw Error("method: unknown fine-tuning method '" + r.method + "' (qlora, qalora, qat)");
    json lora = json::object();
    for (const char *k : {"rank", "alpha", "dropout", "rslora"})
        if (p.contains(k))
            lora[k] = p[k];
    if (p.contains("targets") && !p["targets"].empty())
        lora["targets"] = p["targets"];
    r.lora = LoraConfig::fromJson(lora, "lora");
    if (r.method == "qat")
        r.qatSpec = MethodSpec::fromJson(p.value("qat", json::object()), "qat");
    r.steps = p.value("steps", r.steps);
    r.batchSize = p.value("batch_size", r.batchSize);
    r.gradAccum = p.value("grad_accum", r.gradAccum);
    r.lr = p.value("lr", r.lr);
    r.schedule = p.value("schedule", r.schedule);
    r.warmup = p.value("warmup", r.warmup);
    r.maxGradNorm = p.value("max_grad_norm", r.maxGradNorm);
    r.weightDecay = p.value("weight_decay", r.weightDecay);
    r.maxSeqLen = p.value("max_seq_len", r.maxSeqLen);
    r.answerOnly = p.value("answer_only", r.answerOnly);
    r.evalEvery = p.value("eval_every", r.evalEvery);
    r.checkpointEvery = p.value("checkpoint_every", r.checkpointEvery);
    r.seed = p.value("train_seed", r.seed);
    r.learnScales = p.value("learn_scales", r.learnScales);
    if (r.steps < 1 || r.batchSize < 1 || r.gradAccum < 1)
        throw Error("steps, batch_size and grad_accum must be >= 1");
    return r;
}

namespace {

struct Example
{
    std::vector<int64_t> ids;
    std::vector<int64_t> targets; // -100 where no loss
};

std::vector<Example> buildExamples(const TextCodec &codec, const std::vector<int64_t> &endTokens,
                                   const std::vector<eval::QuestionSet> &sets,
                                   const FinetuneRecipe &r, int64_t *cut)
{
    if (endTokens.empty())
        throw Error("the model has no end-of-text token (eos_token_id): answers could not end");
    std::vector<Example> out;
    for (const auto &set : sets)
        for (const auto &q : set.questions) {
            const std::string target = set.task == eval::Task::Gsm8k
                ? data::gsmTarget(q.gsm, set.format)
                : data::gpqaTarget(q.gpqa, set.format);
            const auto p = codec.encode(q.prompt);
            auto t = codec.encode(target);
            t.push_back(endTokens.front());
            Example e;
            e.ids = p;
            e.ids.insert(e.ids.end(), t.begin(), t.end());
            e.targets.assign(e.ids.size(), -100);
            // Position i predicts token i + 1.
            const size_t from = r.answerOnly ? p.size() - 1 : 0;
            for (size_t i = from; i + 1 < e.ids.size(); ++i)
                e.targets[i] = e.ids[i + 1];
            if (static_cast<int64_t>(e.ids.size()) > r.maxSeqLen) {
                e.ids.resize(r.maxSeqLen);
                e.targets.resize(r.maxSeqLen);
                e.targets.back() = -100;
                ++*cut;
            }
            // An example whose answer lies wholly beyond max_seq_len teaches nothing.
            if (std::any_of(e.targets.begin(), e.targets.end(), [](int64_t t) { return t != -100; }))
                out.push_back(std::move(e));
        }
    if (out.empty())
        throw Error(*cut ? "max_seq_len " + std::to_string(r.maxSeqLen)
                               + " cuts off every answer of the training set"
                         : std::string("the training set is empty"));
    return out;
}

// The micro-batch of (step, micro): depends only on the seed, so a resumed run sees the same data.
std::pair<at::Tensor, at::Tensor> batchOf(const std::vector<Example> &examples,
                                          const FinetuneRecipe &r, int64_t step, int64_t micro,
                                          int64_t pad)
{
    std::mt19937_64 rng(r.seed * 1000003ull + static_cast<uint64_t>(step) * 131ull
                        + static_cast<uint64_t>(micro));
    std::uniform_int_distribution<size_t> pick(0, examples.size() - 1);
    std::vector<const Example *> rows;
    size_t len = 0;
    for (int64_t i = 0; i < r.batchSize; ++i) {
        rows.push_back(&examples[pick(rng)]);
        len = std::max(len, rows.back()->ids.size());
    }
    const int64_t b = static_cast<int64_t>(rows.size());
    at::Tensor ids = at::full({b, int64_t(len)}, pad, at::kLong);
    at::Tensor targets = at::full({b, int64_t(len)}, -100, at::kLong);
    for (int64_t i = 0; i < b; ++i) {
        std::copy(rows[i]->ids.begin(), rows[i]->ids.end(), ids[i].data_ptr<int64_t>());
        std::copy(rows[i]->targets.begin(), rows[i]->targets.end(),
                  targets[i].data_ptr<int64_t>());
    }
    return {ids, targets};
}

// The group size of the INT-k base layers QA-LoRA pools over; every target must share it.
int qaGroupSizeOf(const Transformer &model, const std::vector<std::string> &targets)
{
    int group = 0;
    for (const auto &name : selectTrainTargets(model, targets)) {
        const auto *op = dynamic_cast<const IntGroupLinear *>(&model.linear(name));
        if (!op)
            throw Error("qalora needs a group-wise INT-k base (quantize method int, gptq or awq); "
                        "layer '" + name + "' is " + model.linear(name).kind());
        const int g = op->intConfig().group_size;
        if (g <= 0)
            throw Error("qalora needs groups along the input; layer '" + name
                        + "' is quantized per channel");
        if (group && g != group)
            throw Error("qalora: layers have different group sizes (" + std::to_string(group)
                        + " and " + std::to_string(g) + " at '" + name + "')");
        group = g;
    }
    return group;
}

void setTraining(Transformer &model, bool on)
{
    for (auto &[name, op] : loraLayers(model))
        op->setTraining(on);
}

} // namespace

FinetuneResult finetune(ModelBundle &bundle, const FinetuneRecipe &r,
                        const std::vector<eval::QuestionSet> &train,
                        const std::vector<EvalSet> &evalSets, const fs::path &resumeDir,
                        const FinetuneHooks &hooks)
{
    Transformer &model = *bundle.model;
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<int64_t> endTokens = bundle.endTokens();
    int64_t cut = 0;
    const auto examples = buildExamples(*bundle.codec, endTokens, train, r, &cut);
    hooks.work.say(std::to_string(examples.size()) + " training examples"
                   + (cut ? " (" + std::to_string(cut) + " cut at max_seq_len "
                                + std::to_string(r.maxSeqLen) + ")"
                          : std::string()));
    const int64_t pad = model.config().padTokenId >= 0 ? model.config().padTokenId : endTokens.front();

    for (auto &[name, t] : model.tensors())
        t.requires_grad_(false);
    std::vector<std::string> wrapped;
    if (r.method == "qat") {
        wrapped = applyQat(model, r.qatSpec, r.lora.targets, r.learnScales);
    } else {
        LoraConfig lc = r.lora;
        if (r.method == "qalora") {
            // Pool over the base's own groups: every wrapped layer must be group-wise INT-k.
            lc.qaGroupSize = qaGroupSizeOf(model, lc.targets);
        }
        wrapped = applyLora(model, lc, r.seed);
    }
    std::vector<at::Tensor> params;
    for (const auto &name : wrapped)
        for (auto &t : model.linear(name).trainableParameters()) {
            t.requires_grad_(true);
            params.push_back(t);
        }
    int64_t trainable = 0;
    for (const auto &p : params)
        trainable += p.numel();
    const int64_t total = model.config().parameterCount();
    hooks.work.say(r.method + ": " + std::to_string(wrapped.size()) + " layers, "
                   + std::to_string(trainable) + " trainable parameters ("
                   + std::to_string(100.0 * trainable / std::max<int64_t>(1, total)).substr(0, 5)
                   + "% of " + std::to_string(total) + ")");

    AdamWConfig ac;
    ac.beta2 = 0.999; // PEFT/QLoRA recipes use torch's AdamW defaults
    ac.weightDecay = r.weightDecay;
    AdamW opt(params, std::vector<bool>(params.size(), r.weightDecay > 0), ac);
    json history = {{"loss", json::array()}, {"eval", json::array()}};
    int64_t start = 0;
    if (!resumeDir.empty()) {
        fs::create_directories(resumeDir);
        start = loadTrainCheckpoint(resumeDir, params, opt, &history);
        if (start > 0)
            hooks.work.say("resuming from the checkpoint of step " + std::to_string(start));
    }

    auto evaluateAll = [&](int64_t step, json *scores = nullptr) {
        setTraining(model, false);
        WorkHooks cancelOnly;
        cancelOnly.checkCancelled = hooks.work.checkCancelled;
        for (const auto &[name, acc] : scoreEvalSets(bundle, evalSets, cancelOnly)) {
            history["eval"].push_back({{"step", step}, {"dataset", name}, {"accuracy", acc}});
            if (scores)
                (*scores)[name] = acc;
            if (hooks.onEval)
                hooks.onEval(step, name, acc);
        }
        setTraining(model, true);
    };

    setTraining(model, true);
    double lastLoss = NAN;
    int64_t tokens = 0;
    for (int64_t step = start; step < r.steps; ++step) {
        hooks.work.poll();
        const auto s0 = std::chrono::steady_clock::now();
        const double lr = r.schedule == "constant"
            ? r.lr * std::min(1.0, double(step + 1) / double(std::max<int64_t>(1, r.warmup)))
            : warmupCosineLr(step, r.warmup, r.steps, r.lr, 0.1);
        opt.zeroGrad();
        double lossSum = 0;
        int64_t stepTokens = 0;
        for (int64_t micro = 0; micro < r.gradAccum; ++micro) {
            at::manual_seed(r.seed * 7919ull + static_cast<uint64_t>(step) * 64 + micro); // dropout
            const auto [ids, targets] = batchOf(examples, r, step, micro, pad);
            const auto flat = targets.reshape({-1});
            const auto where = flat.ne(-100).nonzero().squeeze(1);
            const auto h = model.hidden(ids);
            const auto picked = h.reshape({-1, h.size(-1)}).index_select(0, where);
            at::Tensor loss = lmLoss(model.head(picked), flat.index_select(0, where));
            (loss / double(r.gradAccum)).backward();
            lossSum += loss.item<double>();
            stepTokens += ids.numel();
        }
        const double gradNorm = opt.clipGradNorm(r.maxGradNorm);
        opt.step(lr);
        lastLoss = lossSum / double(r.gradAccum);
        if (!std::isfinite(lastLoss))
            throw Error("fine-tuning diverged at step " + std::to_string(step) + " (loss "
                        + std::to_string(lastLoss) + "); lower the learning rate");
        tokens += stepTokens;
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - s0).count();
        if (step % 10 == 0 || step + 1 == r.steps)
            history["loss"].push_back({step, lastLoss});
        if (hooks.onStep)
            hooks.onStep(step, r.steps, lastLoss, lr, gradNorm, secs > 0 ? stepTokens / secs : 0);
        if (r.evalEvery > 0 && (step + 1) % r.evalEvery == 0 && step + 1 < r.steps)
            evaluateAll(step + 1);
        if (!resumeDir.empty() && r.checkpointEvery > 0 && (step + 1) % r.checkpointEvery == 0
            && step + 1 < r.steps)
            saveTrainCheckpoint(resumeDir, params, opt, step + 1, history);
    }
    for (auto &p : params)
        p.requires_grad_(false);
    setTraining(model, false);

    json summary = {{"method", r.method},
                    {"layers", wrapped.size()},
                    {"trainable_parameters", trainable},
                    {"trainable_fraction", double(trainable) / std::max<int64_t>(1, total)},
                    {"adapter_bytes", trainable * int64_t(sizeof(float))},
                    {"final_loss", lastLoss},
                    {"steps", r.steps},
                    {"resumed_from", start}};
    if (r.method == "qalora") {
        // The merge must not change what the model answers: score the held-out sets with the
        // adapters, merge, score again (both in the summary).
        json before = json::object(), after = json::object();
        if (!evalSets.empty())
            evaluateAll(r.steps, &before);
        const size_t merged = loraLayers(model).size();
        mergeQaLora(model);
        hooks.work.say("QA-LoRA merged into the zero points of " + std::to_string(merged)
                       + " layers");
        summary["merged_layers"] = merged;
        if (!evalSets.empty()) {
            evaluateAll(r.steps, &after);
            summary["eval_before_merge"] = before;
            summary["eval_after_merge"] = after;
            for (const auto &[name, acc] : before.items())
                hooks.work.say("held-out accuracy on " + name + ": " + acc.dump()
                               + " with the adapters, " + after[name].dump() + " merged");
        }
    } else if (r.method == "qat") {
        double worst = 0;
        for (const auto &[name, d] : finishQat(model))
            worst = std::max(worst, d);
        summary["packed_max_abs_diff"] = worst;
    }
    if (!evalSets.empty() && r.method != "qalora")
        evaluateAll(r.steps);
    const double minutes =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / 60.0;
    summary["minutes"] = minutes;
    summary["peak_memory_mib"] = peakMemoryMiB();
    summary["tokens_per_second"] = minutes > 0 ? tokens / (minutes * 60.0) : 0.0;
    summary["history"] = history;
    return {summary};
}

} // namespace qb
