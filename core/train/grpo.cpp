#include "train/grpo.h"

#include "data/prompts.h"
#include "eval/evaluator.h"
#include "train/grpo_loss.h"
#include "util/error.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>

namespace fs = std::filesystem;
using nlohmann::json;

namespace qb {

GrpoRecipe GrpoRecipe::fromJson(const json &p)
{
    GrpoRecipe r;
    GrpoConfig &o = r.objective;
    o.groupSize = p.value("num_generations", int64_t(8));
    o.beta = p.value("beta", o.beta);
    o.epsilonLow = p.value("epsilon", o.epsilonLow);
    o.epsilonHigh = p.contains("epsilon_high") && !p["epsilon_high"].is_null()
        ? p["epsilon_high"].get<double>()
        : o.epsilonLow;
    o.loss = lossTypeFromName(p.value("loss_type", lossTypeName(o.loss)));
    o.scale = advantageScaleFromName(p.value("scale_rewards", advantageScaleName(o.scale)));
    r.sampling.strategy = "sample";
    r.sampling.temperature = p.value("temperature", 1.0);
    r.sampling.topP = p.value("top_p", 1.0);
    r.sampling.topK = p.value("top_k", int64_t(0));
    r.sampling.maxNewTokens = p.value("max_completion_length", int64_t(160));
    o.maxCompletionLength = r.sampling.maxNewTokens;
    if (p.contains("rewards"))
        r.rewards = RewardConfig::fromJson(p["rewards"], "rewards");
    json lora = json::object();
    for (const char *k : {"rank", "alpha", "rslora"})
        if (p.contains(k))
            lora[k] = p[k];
    if (p.contains("targets") && !p["targets"].empty())
        lora["targets"] = p["targets"];
    r.lora = LoraConfig::fromJson(lora, "lora");
    r.steps = p.value("steps", r.steps);
    r.promptsPerStep = p.value("prompts_per_step", r.promptsPerStep);
    r.numIterations = p.value("num_iterations", r.numIterations);
    r.lr = p.value("lr", r.lr);
    r.warmup = p.value("warmup", r.warmup);
    r.schedule = p.value("schedule", r.schedule);
    r.maxGradNorm = p.value("max_grad_norm", r.maxGradNorm);
    r.evalEvery = p.value("eval_every", r.evalEvery);
    r.checkpointEvery = p.value("checkpoint_every", r.checkpointEvery);
    r.seed = p.value("train_seed", r.seed);
    if (o.groupSize < 2)
        throw Error("num_generations must be >= 2 (advantages are relative to the group), got "
                    + std::to_string(o.groupSize));
    if (r.steps < 1 || r.promptsPerStep < 1 || r.numIterations < 1)
        throw Error("steps, prompts_per_step and num_iterations must be >= 1");
    if (r.sampling.temperature <= 0)
        throw Error("temperature must be > 0: GRPO needs different completions within a group");
    if (r.schedule != "constant" && r.schedule != "cosine")
        throw Error("schedule: '" + r.schedule + "' is not one of constant, cosine");
    return r;
}

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0)
{
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

struct Source
{
    size_t set = 0;
    size_t question = 0;
};

// The prompts of a step: depend only on (seed, step).
std::vector<Source> promptsOf(const std::vector<eval::QuestionSet> &train, int64_t count,
                              uint64_t seed, int64_t step)
{
    std::vector<Source> all;
    for (size_t s = 0; s < train.size(); ++s)
        for (size_t q = 0; q < train[s].questions.size(); ++q)
            all.push_back({s, q});
    std::mt19937_64 rng(seed * 1000003ull + static_cast<uint64_t>(step) * 7919ull + 17);
    std::uniform_int_distribution<size_t> pick(0, all.size() - 1);
    std::vector<Source> out;
    for (int64_t i = 0; i < count; ++i)
        out.push_back(all[pick(rng)]);
    return out;
}

// Rollouts of one step: B = prompts * G rows, each prompt's completions consecutive.
struct Batch
{
    std::vector<std::vector<int64_t>> prompt;  // ids per row
    std::vector<std::vector<int64_t>> actions; // generated ids per row (end token included)
    std::vector<RewardScore> scores;
    std::vector<Rollout> rollouts;
};

// The tensors the loss needs: ids [B, L] (prompt + actions, right-padded), for the completion
// token t of row i the position predicting it pos[i, t] = |prompt_i| - 1 + t, target[i, t] and
// mask[i, t].
struct Packed
{
    at::Tensor ids, pos, target, mask, rewards;
};

Packed pack(const Batch &b, int64_t pad)
{
    const int64_t rows = static_cast<int64_t>(b.prompt.size());
    int64_t len = 0, width = 1;
    for (int64_t i = 0; i < rows; ++i) {
        len = std::max<int64_t>(len, b.prompt[i].size() + b.actions[i].size());
        width = std::max<int64_t>(width, b.actions[i].size());
    }
    Packed p;
    p.ids = at::full({rows, len}, pad, at::kLong);
    p.pos = at::zeros({rows, width}, at::kLong);
    p.target = at::zeros({rows, width}, at::kLong);
    p.mask = at::zeros({rows, width}, at::kFloat);
    p.rewards = at::empty({rows}, at::kFloat);
    auto ids = p.ids.accessor<int64_t, 2>();
    auto pos = p.pos.accessor<int64_t, 2>();
    auto target = p.target.accessor<int64_t, 2>();
    auto mask = p.mask.accessor<float, 2>();
    for (int64_t i = 0; i < rows; ++i) {
        const auto &pr = b.prompt[i];
        const auto &ac = b.actions[i];
        for (size_t k = 0; k < pr.size(); ++k)
            ids[i][k] = pr[k];
        for (size_t t = 0; t < ac.size(); ++t) {
            ids[i][pr.size() + t] = ac[t];
            pos[i][t] = static_cast<int64_t>(pr.size()) - 1 + static_cast<int64_t>(t);
            target[i][t] = ac[t];
            mask[i][t] = 1.0f;
        }
        p.rewards[i] = b.scores[i].total;
    }
    return p;
}

// Per-token log-probabilities [B, T] of the actions under the model as it is now (with grad when
// grad mode is on), and optionally the masked mean token entropy. As TRL, the logits are divided
// by the sampling temperature: the policy is the distribution the rollouts were drawn from.
at::Tensor actionLogps(Transformer &model, const Packed &p, double temperature,
                       double *entropy = nullptr)
{
    const at::Tensor h = model.hidden(p.ids);                          // [B, L, H]
    const int64_t hid = h.size(-1);
    const at::Tensor picked =
        h.gather(1, p.pos.unsqueeze(-1).expand({-1, -1, hid}));       // [B, T, H]
    const at::Tensor logp = at::log_softmax(model.head(picked) / temperature, -1); // [B, T, V]
    if (entropy) {
        at::NoGradGuard noGrad;
        const at::Tensor ent = -(logp.exp() * logp).sum(-1);
        *entropy = ((ent * p.mask).sum() / p.mask.sum().clamp_min(1)).item<double>();
    }
    return logp.gather(-1, p.target.unsqueeze(-1)).squeeze(-1);
}

// The adapters' tensors swapped with `other` (same order as the parameters), and back.
void swapAdapters(Transformer &model, std::vector<at::Tensor> &other)
{
    size_t k = 0;
    for (auto &[name, op] : loraLayers(model)) {
        std::swap(op->loraA(), other[k++]);
        std::swap(op->loraB(), other[k++]);
    }
}

double meanGroupStd(const at::Tensor &rewards, int64_t g, double *fracZero)
{
    const at::Tensor groups = rewards.to(at::kDouble).view({-1, g});
    const at::Tensor sd = groups.std(1, /*unbiased=*/true);
    *fracZero = (groups.amax(1) - groups.amin(1)).abs().lt(1e-12).to(at::kDouble)
                    .mean().item<double>();
    return sd.mean().item<double>();
}

} // namespace

GrpoResult grpoTrain(ModelBundle &bundle, const GrpoRecipe &r,
                     const std::vector<eval::QuestionSet> &train,
                     const std::vector<EvalSet> &evalSets, const fs::path &resumeDir,
                     const GrpoHooks &hooks)
{
    Transformer &model = *bundle.model;
    const auto t0 = Clock::now();
    size_t questions = 0;
    for (const auto &set : train)
        questions += set.questions.size();
    if (questions == 0)
        throw Error("grpo: the training set is empty");
    const std::vector<int64_t> endTokens = bundle.endTokens();
    if (endTokens.empty())
        throw Error("grpo: the model has no end-of-text token (eos_token_id)");
    const int64_t g = r.objective.groupSize;
    const int64_t pad = model.config().padTokenId >= 0 ? model.config().padTokenId : endTokens.front();

    for (auto &[name, t] : model.tensors())
        t.requires_grad_(false);
    GrpoResult result;
    if (loraLayers(model).empty()) {
        applyLora(model, r.lora, r.seed);
        result.lora = r.lora;
        hooks.work.say("grpo: new LoRA adapters (r " + std::to_string(r.lora.rank) + ")");
    } else {
        result.lora = loraLayers(model).front().second->config();
        hooks.work.say("grpo: training the model's " + std::to_string(loraLayers(model).size())
                       + " LoRA adapters");
    }
    std::vector<at::Tensor> params, reference;
    for (auto &[name, op] : loraLayers(model)) {
        op->setTraining(false); // no adapter dropout: the first ratio of a batch is exactly 1
        for (auto *t : {&op->loraA(), &op->loraB()}) {
            t->requires_grad_(true);
            params.push_back(*t);
            reference.push_back(t->detach().clone());
        }
    }
    int64_t trainable = 0;
    for (const auto &p : params)
        trainable += p.numel();

    AdamWConfig ac;
    ac.beta2 = 0.999;
    ac.weightDecay = 0.0;
    AdamW opt(params, std::vector<bool>(params.size(), false), ac);
    json history = {{"steps", json::array()}, {"eval", json::array()}};
    int64_t start = 0;
    if (!resumeDir.empty()) {
        fs::create_directories(resumeDir);
        start = loadTrainCheckpoint(resumeDir, params, opt, &history);
        if (start > 0)
            hooks.work.say("grpo: resuming from the checkpoint of step " + std::to_string(start));
    }
    auto evaluateAll = [&](int64_t step) {
        WorkHooks cancelOnly;
        cancelOnly.checkCancelled = hooks.work.checkCancelled;
        for (const auto &[name, acc] : scoreEvalSets(bundle, evalSets, cancelOnly)) {
            history["eval"].push_back({{"step", step}, {"dataset", name}, {"accuracy", acc}});
            if (hooks.onEval)
                hooks.onEval(step, name, acc);
        }
    };
    if (start == 0 && !evalSets.empty())
        evaluateAll(0);

    const eval::ModelRef ref = eval::refOf(bundle);
    double genSeconds = 0, updateSeconds = 0;
    int64_t rolloutTokens = 0;
    for (int64_t step = start; step < r.steps; ++step) {
        hooks.work.poll();
        GrpoStepStats st;
        st.step = step;
        st.total = r.steps;
        st.lr = r.schedule == "constant"
            ? r.lr * std::min(1.0, double(step + 1) / double(std::max<int64_t>(1, r.warmup)))
            : warmupCosineLr(step, r.warmup, r.steps, r.lr, 0.1);

        // Rollouts: each training set's prompts of this step in one batched generation.
        const auto g0 = Clock::now();
        const std::vector<Source> sources = promptsOf(train, r.promptsPerStep, r.seed, step);
        Batch batch;
        const size_t rows = sources.size() * size_t(g);
        batch.prompt.resize(rows);
        batch.actions.resize(rows);
        batch.scores.resize(rows);
        batch.rollouts.resize(rows);
        for (size_t s = 0; s < train.size(); ++s) {
            std::vector<size_t> rowsOfSet;
            std::vector<std::string> prompts;
            for (size_t k = 0; k < sources.size(); ++k)
                if (sources[k].set == s)
                    for (int64_t j = 0; j < g; ++j) {
                        rowsOfSet.push_back(k * g + j);
                        prompts.push_back(train[s].questions[sources[k].question].prompt);
                    }
            if (prompts.empty())
                continue;
            DecodingConfig dc = r.sampling;
            dc.seed = r.seed * 1000003ull + static_cast<uint64_t>(step) * 7919ull + s;
            const auto stops = data::stopSequences(train[s].format);
            WorkHooks cancelOnly;
            cancelOnly.checkCancelled = hooks.work.checkCancelled;
            const auto done = eval::complete(ref, prompts, dc, stops,
                                             static_cast<int>(prompts.size()), cancelOnly);
            for (size_t k = 0; k < done.size(); ++k) {
                const size_t row = rowsOfSet[k];
                const Source &src = sources[row / g];
                batch.prompt[row] = bundle.codec->encode(prompts[k]);
                std::vector<int64_t> actions = done[k].ids;
                // How the row ended: a stop string (the text was cut), max_new_tokens, or the
                // end token the policy chose (then it is the row's last action).
                const bool stopped = done[k].text.size() < bundle.codec->decode(actions).size();
                const bool full = static_cast<int64_t>(actions.size()) >= dc.maxNewTokens;
                if (!stopped && !full)
                    actions.push_back(endTokens.front());
                Rollout &ro = batch.rollouts[row];
                ro.text = done[k].text;
                ro.tokens = static_cast<int64_t>(actions.size());
                ro.truncated = !stopped && full;
                batch.scores[row] = scoreRollout(train[s], src.question, ro, dc.maxNewTokens, r.rewards);
                batch.actions[row] = std::move(actions);
            }
        }
        st.generationSeconds = since(g0);
        int64_t stepTokens = 0;
        for (const auto &ro : batch.rollouts) {
            stepTokens += ro.tokens;
            st.truncated += ro.truncated;
        }
        for (size_t i = 0; i < rows; ++i) {
            for (int k = 0; k < kRewardParts; ++k)
                st.parts[k] += batch.scores[i].parts[k];
            st.accuracy += batch.scores[i].part(RewardPart::Correctness);
        }
        for (auto &v : st.parts)
            v /= double(rows);
        st.accuracy /= double(rows);
        st.truncated /= double(rows);
        st.completionLength = double(stepTokens) / double(rows);
        st.rolloutTokensPerSec = st.generationSeconds > 0 ? stepTokens / st.generationSeconds : 0;

        // Updates.
        const auto u0 = Clock::now();
        const Packed packed = pack(batch, pad);
        st.reward = packed.rewards.to(at::kDouble).mean().item<double>();
        st.rewardStd = meanGroupStd(packed.rewards, g, &st.fracZeroStd);
        at::Tensor oldLogps, refLogps;
        {
            at::NoGradGuard noGrad;
            if (r.numIterations > 1)
                oldLogps = actionLogps(model, packed, r.sampling.temperature);
            if (r.objective.beta > 0) {
                swapAdapters(model, reference);
                refLogps = actionLogps(model, packed, r.sampling.temperature);
                swapAdapters(model, reference);
            }
        }
        for (int64_t it = 0; it < r.numIterations; ++it) {
            opt.zeroGrad();
            double entropy = 0;
            const at::Tensor logps =
                actionLogps(model, packed, r.sampling.temperature, it == 0 ? &entropy : nullptr);
            const GrpoLoss l = grpoLoss(logps, oldLogps.defined() ? oldLogps : logps.detach(),
                                        refLogps, packed.mask, packed.rewards, r.objective);
            const double loss = l.loss.item<double>();
            if (!std::isfinite(loss))
                throw Error("grpo diverged at step " + std::to_string(step) + " (loss "
                            + std::to_string(loss) + "); lower the learning rate");
            l.loss.backward();
            st.gradNorm = opt.clipGradNorm(r.maxGradNorm);
            opt.step(st.lr);
            if (it == 0) {
                st.loss = loss;
                st.entropy = entropy;
                st.kl = l.meanKl;
            }
            // Clipping happens only from the second update on; report the last one's.
            st.clipFraction = l.clipFraction;
            st.clipLow = l.clipLow;
            st.clipHigh = l.clipHigh;
        }
        st.updateSeconds = since(u0);
        genSeconds += st.generationSeconds;
        updateSeconds += st.updateSeconds;
        rolloutTokens += stepTokens;

        json row = {{"step", step},          {"reward", st.reward},
                    {"reward_std", st.rewardStd}, {"frac_reward_zero_std", st.fracZeroStd},
                    {"accuracy", st.accuracy}, {"kl", st.kl},
                    {"entropy", st.entropy},   {"clip_ratio", st.clipFraction},
                    {"completion_length", st.completionLength},
                    {"truncated", st.truncated}, {"loss", st.loss},
                    {"grad_norm", st.gradNorm}, {"lr", st.lr}};
        for (int k = 0; k < kRewardParts; ++k)
            row[std::string("rewards/") + rewardPartName(static_cast<RewardPart>(k))] = st.parts[k];
        history["steps"].push_back(row);
        if (hooks.onStep)
            hooks.onStep(st);
        if (r.evalEvery > 0 && (step + 1) % r.evalEvery == 0 && step + 1 < r.steps)
            evaluateAll(step + 1);
        if (!resumeDir.empty() && r.checkpointEvery > 0 && (step + 1) % r.checkpointEvery == 0
            && step + 1 < r.steps)
            saveTrainCheckpoint(resumeDir, params, opt, step + 1, history);
    }
    for (auto &p : params)
        p.requires_grad_(false);
    if (!evalSets.empty())
        evaluateAll(r.steps);

    const double seconds = since(t0);
    const int64_t total = model.config().parameterCount();
    result.summary = {{"method", "grpo"},
                      {"trainable_parameters", trainable},
                      {"trainable_fraction", double(trainable) / std::max<int64_t>(1, total)},
                      {"adapter_bytes", trainable * int64_t(sizeof(float))},
                      {"steps", r.steps},
                      {"resumed_from", start},
                      {"minutes", seconds / 60.0},
                      {"generation_seconds", genSeconds},
                      {"update_seconds", updateSeconds},
                      {"generation_share",
                       genSeconds + updateSeconds > 0 ? genSeconds / (genSeconds + updateSeconds) : 0.0},
                      {"rollout_tokens_per_second", genSeconds > 0 ? rolloutTokens / genSeconds : 0.0},
                      {"peak_memory_mib", peakMemoryMiB()},
                      {"history", history}};
    if (!history["steps"].empty())
        result.summary["final_reward"] = history["steps"].back()["reward"];
    return result;
}

} // namespace qb
