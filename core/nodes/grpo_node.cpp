// The grpo node: GRPO over LoRA adapters (train/grpo.h). Input: any model; when it is a PEFT
// adapter folder (e.g. the finetune node's QLoRA output) the GRPO run continues those adapters
// and they are its reference policy, otherwise fresh adapters go on the (quantized) base.
// Output: a PEFT adapter folder over the same base folder, so loadModelBundle loads base +
// adapters as one model (as the finetune node's merge: none).
// Events per step: reward, reward/<component>, reward_std, frac_reward_zero_std, accuracy
// (of the rollouts), kl, entropy, clip_ratio, completion_length, truncated, loss, grad_norm,
// lr, rollout_tokens_per_s; eval_accuracy/<dataset> every eval_every steps.
// Cancel keeps the last checkpoint (checkpoint_every steps) in the node's resume folder.
#include "api/node_context.h"
#include "nodes/node_inputs.h"
#include "nodes/nodes.h"
#include "train/grpo.h"
#include "util/error.h"
#include "util/files.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace qb {

namespace {

// The folder an adapter's base_model_name_or_path names, or the folder itself for a model.
fs::path baseFolderOf(const fs::path &dir)
{
    const fs::path config = dir / "adapter_config.json";
    if (!fs::exists(config))
        return fs::absolute(dir);
    const json j = json::parse(readTextFile(config));
    return fs::path(j.at("base_model_name_or_path").get<std::string>());
}

Artifact runGrpo(NodeContext &ctx)
{
    const json &p = ctx.params();
    const GrpoRecipe recipe = GrpoRecipe::fromJson(p);
    const Artifact &input = ctx.input("model");
    const fs::path inputDir = modelDir(input);
    TrainingInputs in = loadTrainingInputs(ctx);
    ModelBundle &bundle = in.bundle;

    GrpoHooks hooks;
    hooks.work = ctx.hooks();
    hooks.work.progress = {}; // progress comes from onStep
    hooks.onStep = [&](const GrpoStepStats &s) {
        const double x = double(s.step);
        auto metric = [&](const std::string &name, double value, const char *unit) {
            ctx.metric(name, x, value, {}, MetricX::Step, unit);
        };
        metric("reward", s.reward, "reward");
        for (int k = 0; k < kRewardParts; ++k)
            if (recipe.rewards.weights[k] > 0)
                metric(std::string("reward/") + rewardPartName(RewardPart(k)), s.parts[k], "reward");
        metric("reward_std", s.rewardStd, "reward");
        metric("frac_reward_zero_std", s.fracZeroStd, "fraction");
        metric("rollout_accuracy", s.accuracy, "fraction");
        if (recipe.objective.beta > 0)
            metric("kl", s.kl, "nats");
        metric("entropy", s.entropy, "nats");
        metric("clip_ratio", s.clipFraction, "fraction");
        metric("completion_length", s.completionLength, "tokens");
        metric("truncated", s.truncated, "fraction");
        metric("loss", s.loss, "objective");
        metric("grad_norm", s.gradNorm, "norm");
        metric("lr", s.lr, "learning rate");
        metric("rollout_tokens_per_s", s.rolloutTokensPerSec, "tokens/s");
        char line[160];
        std::snprintf(line, sizeof line, "reward %.3f, rollouts %.0f%% right, %.0f tok/s",
                      s.reward, 100.0 * s.accuracy, s.rolloutTokensPerSec);
        ctx.progress(double(s.step + 1), double(s.total), line);
    };
    hooks.onEval = [&](int64_t step, const std::string &dataset, double acc) {
        ctx.metric("eval_accuracy/" + dataset, double(step), acc, {}, MetricX::Step, "fraction");
        ctx.log("step " + std::to_string(step) + ": greedy accuracy on " + dataset + " "
                + std::to_string(acc));
    };
    fs::create_directories(ctx.resumeDir());
    const GrpoResult result = grpoTrain(bundle, recipe, in.train, in.evalSets, ctx.resumeDir(), hooks);

    const fs::path baseDir = baseFolderOf(inputDir);
    saveLoraAdapter(*bundle.model, result.lora, ctx.outDir(), baseDir.string());
    copyTokenizerFiles(inputDir, ctx.outDir());
    const std::string label = input.meta.value("label", input.nodeId) + "+grpo";
    const json &summary = result.summary;
    char line[200];
    std::snprintf(line, sizeof line,
                  "%s: %lld steps in %.1f min (generation %.0f%%, %.0f rollout tok/s), final "
                  "reward %.3f",
                  label.c_str(), static_cast<long long>(recipe.steps),
                  summary["minutes"].get<double>(), 100.0 * summary["generation_share"].get<double>(),
                  summary["rollout_tokens_per_second"].get<double>(),
                  summary.value("final_reward", 0.0));
    ctx.log(line);
    return finishTrainingNode(ctx, bundle, summary, label,
                              input.meta.value("precision", "fp32"), "grpo",
                              {"method", "trainable_parameters", "trainable_fraction",
                               "adapter_bytes", "final_reward", "minutes", "generation_share",
                               "rollout_tokens_per_second", "peak_memory_mib", "steps"});
}

} // namespace

void registerGrpoNodes(NodeRegistry &registry)
{
    NodeSpec n("grpo", "GRPO (reinforcement learning)", "Recovery", "model",
               "Group Relative Policy Optimization over LoRA adapters, as TRL's GRPOTrainer: "
               "sample a group of completions per prompt, score them with weighted rewards "
               "(correctness, format, length, per-step credit), and push the policy towards the "
               "better ones (clipped ratio, optional KL to the starting adapters).");
    n.inputs = {{"model", "model", false, false,
                 "The policy: a (quantized) base, or base + LoRA adapters (e.g. from QLoRA) "
                 "whose adapters GRPO continues"},
                {"train", "dataset", true, false, "Prompts with gold answers"},
                {"eval", "dataset", true, true, "Held-out questions for periodic evaluation"}};
    n.params = {
        ParamSpec::integer("steps", 100, "Optimizer steps (one batch of rollouts each)")
            .range(1, 1e7),
        ParamSpec::integer("prompts_per_step", 8, "Prompts per step").range(1, 4096),
        ParamSpec::integer("num_generations", 8, "Completions per prompt (the group G)")
            .range(2, 1024),
        ParamSpec::integer("num_iterations", 1,
                           "Policy updates per batch of rollouts (> 1: the ratio moves and "
                           "clipping acts)")
            .range(1, 64),
        ParamSpec::real("lr", 2e-4, "Learning rate (AdamW)").range(1e-8, 1.0),
        ParamSpec::choice("schedule", "constant", {"constant", "cosine"},
                          "After warm-up: constant, or cosine to 10% of lr"),
        ParamSpec::integer("warmup", 0, "Linear warm-up steps").range(0, 1e6),
        ParamSpec::real("max_grad_norm", 1.0, "Gradient clipping (global L2 norm)").range(0, 1e6),
        ParamSpec::real("beta", 0.0, "Weight of the k3 KL to the reference policy (0: none, no "
                                     "reference pass)")
            .range(0, 100),
        ParamSpec::real("epsilon", 0.2, "Clip range below (and above unless epsilon_high)")
            .range(0, 10),
        ParamSpec::real("epsilon_high", 0.2, "Clip range above (DAPO: 0.28)").range(0, 10),
        ParamSpec::choice("loss_type", "dapo", {"grpo", "bnpo", "dr_grpo", "dapo"},
                          "Loss aggregation: per-sequence mean (grpo), token-level (bnpo, dapo), "
                          "constant normaliser (dr_grpo)"),
        ParamSpec::choice("scale_rewards", "group", {"group", "batch", "none"},
                          "Advantages divided by the group's reward std, the batch's, or not"),
        ParamSpec::object("rewards",
                          {ParamSpec::real("correctness", 1.0, "Answer equals the gold (strict "
                                                              "extraction, as evaluation)")
                               .range(0, 1e3),
                           ParamSpec::real("format", 0.0, "The answer line is present").range(0, 1e3),
                           ParamSpec::real("length", 0.0, "Soft overlong penalty (DAPO); -1 when "
                                                          "cut off by max_completion_length")
                               .range(0, 1e3),
                           ParamSpec::real("steps", 0.0, "GSM: fraction of the reference's "
                                                         "intermediate results reproduced")
                               .range(0, 1e3),
                           ParamSpec::integer("overlong_buffer", 32,
                                              "Tokens before the limit where the length penalty "
                                              "ramps to -1")
                               .range(1, 1 << 16)},
                          "Reward weights (the total is their weighted sum)"),
        ParamSpec::real("temperature", 1.0, "Sampling temperature of the rollouts").range(0.01, 10),
        ParamSpec::real("top_p", 1.0, "Nucleus sampling of the rollouts").range(0.01, 1),
        ParamSpec::integer("top_k", 0, "Top-k sampling of the rollouts (0 = off)").range(0, 1 << 20),
        ParamSpec::integer("max_completion_length", 160, "Tokens per completion").range(1, 1 << 16),
        ParamSpec::integer("rank", 16, "LoRA rank of new adapters (an input's adapters are "
                                       "kept as they are)")
            .range(1, 1024),
        ParamSpec::real("alpha", 32, "LoRA alpha of new adapters").range(0, 1e6),
        ParamSpec::stringList("targets", "Glob patterns of linears for new adapters; empty = "
                                         "every decoder linear"),
        ParamSpec::integer("eval_every", 25, "Periodic greedy evaluation (0 = only at the end)")
            .range(0, 1e7),
        ParamSpec::integer("checkpoint_every", 10, "Resumable checkpoints (0 = off)").range(0, 1e7),
        ParamSpec::integer("train_seed", 1234, "Prompt order and sampling seed").atLeast(0)};
    for (auto &spec : trainingPromptParams())
        n.params.push_back(std::move(spec));
    n.run = runGrpo;
    registry.add(n);
}

} // namespace qb
