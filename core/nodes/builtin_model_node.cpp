// model.builtin: the built-in reasoner. With weights: auto it copies the shipped weights from
// resources/<preset>/ when they were made by exactly this recipe (training.json says so), else it
// pre-trains from scratch (cached like any node, checkpointed into the node's resume folder).
#include "api/node_context.h"
#include "nodes/nodes.h"
#include "train/reasoner.h"
#include "util/error.h"
#include "util/files.h"

#include <cstdlib>

namespace fs = std::filesystem;
using nlohmann::json;

namespace qb {

namespace {

fs::path resourcesDir()
{
    if (const char *env = std::getenv("QB_RESOURCES_DIR"); env && *env)
        return env;
    return QB_RESOURCES_DIR;
}

Artifact runBuiltin(NodeContext &ctx)
{
    const json &p = ctx.params();
    const ReasonerRecipe recipe = ReasonerRecipe::fromJson(p);
    const fs::path shipped = resourcesDir() / recipe.preset;
    Artifact a;
    a.meta = {{"label", recipe.preset}, {"precision", "fp32"}};
    if (p["weights"] == "auto" && fs::exists(shipped / "training.json")) {
        const json training = json::parse(readTextFile(shipped / "training.json"));
        if (training.value("recipe", json()) == recipe.toJson()) {
            for (const char *f : {"config.json", "model.safetensors", "tokenizer.json", "training.json"})
                fs::copy_file(shipped / f, ctx.outDir() / f);
            ctx.log("using the shipped weights in " + shipped.string());
            a.meta["source"] = "shipped";
            a.meta["parameters"] = training["parameters"];
            return a;
        }
        ctx.log("shipped weights in " + shipped.string() + " were made by another recipe; training");
    }
    fs::create_directories(ctx.resumeDir());
    ReasonerCallbacks cb;
    cb.work = ctx.hooks();
    cb.onStep = [&](int64_t step, int64_t total, double loss, double lr, double tps) {
        if (step % 10 == 0 || step + 1 == total) {
            ctx.metric("loss", step, loss, {}, MetricX::Step, "nats");
            ctx.metric("lr", step, lr, {}, MetricX::Step, "learning rate");
            ctx.progress(step + 1, total, "loss " + std::to_string(loss).substr(0, 6) + ", "
                                              + std::to_string(static_cast<int>(tps)) + " tok/s");
        }
    };
    cb.onEval = [&](int64_t step, const std::string &task, double acc) {
        ctx.metric("eval_accuracy/" + task, step, acc, {}, MetricX::Step, "fraction");
        ctx.log("step " + std::to_string(step) + ": greedy accuracy on " + task + " " +
                std::to_string(acc));
    };
    const json summary = pretrainReasoner(recipe, ctx.outDir(), ctx.resumeDir(), cb);
    a.meta["source"] = "trained";
    a.meta["parameters"] = summary["parameters"];
    a.meta["minutes"] = summary["minutes"];
    ctx.addResult({{"model", ctx.nodeId()}, {"task", "pretrain"}, {"final_loss", summary["final_loss"]},
                   {"minutes", summary["minutes"]}, {"parameters", summary["parameters"]}});
    return a;
}

} // namespace

void registerBuiltinModelNodes(NodeRegistry &registry)
{
    NodeSpec s("model.builtin", "Built-in reasoner", "Models", "model",
                 "A small Llama-style model pre-trained by QuantBench on generated GSM-style "
                 "and GPQA-style problems (shipped weights, or pre-trained here).");
    ReasonerRecipe d;
    s.params = {
        ParamSpec::choice("preset", "tiny-reasoner", {"tiny-reasoner", "micro"}, "Model size"),
        ParamSpec::choice("weights", "auto", {"auto", "train"},
                          "auto: shipped weights when they match the recipe; train: always "
                          "pre-train"),
        ParamSpec::integer("steps", d.steps, "Optimiser steps").range(1, 1e7),
        ParamSpec::integer("batch_size", d.batchSize, "Sequences per step").range(1, 4096),
        ParamSpec::real("lr", d.lr, "Peak learning rate (AdamW)").range(1e-6, 1.0),
        ParamSpec::integer("warmup", d.warmup, "Linear warm-up steps").range(0, 1e6),
        ParamSpec::boolean("bf16", d.bf16, "bfloat16 autocast of matrix products"),
        ParamSpec::boolean("number_features", d.numberFeatures,
                           "Train number embeddings factored over their digits and magnitude"),
        ParamSpec::integer("eval_every", d.evalEvery, "Greedy evaluation period (0 = off)")
            .range(0, 1e7),
        ParamSpec::integer("eval_questions", d.evalQuestions, "Held-out questions per task")
            .range(1, 1e5),
        ParamSpec::integer("gsm_examples", d.gsmExamples, "Generated GSM-style examples")
            .range(1, 1e7),
        ParamSpec::integer("gpqa_examples", d.gpqaExamples, "Generated GPQA-style examples")
            .range(0, 1e7),
        ParamSpec::real("gpqa_share", d.gpqaShare, "Share of each batch from the GPQA-style examples")
            .range(0.0, 1.0),
        ParamSpec::choice("gpqa_format", d.gpqaFormat, {"gpqa_zeroshot", "gpqa_cot_zeroshot"},
                          "How GPQA-style examples are answered in training: the letter alone, or "
                          "the worked result, the choices checked against it, then the letter"),
        ParamSpec::integer("max_value", d.maxValue, "Largest value in a GSM-style problem")
            .range(10, 999),
        ParamSpec::integer("train_seed", int64_t(d.seed), "Data and initialisation seed")
            .atLeast(0)};
    s.version = 3; // 2: solution lines restate their event; number features; 3: GPQA worked answers
    s.run = runBuiltin;
    registry.add(s);
}

} // namespace qb
