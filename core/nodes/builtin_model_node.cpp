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
    cb.log = [&](const std::string &m) { ctx.log(m); };
    cb.checkCancelled = [&] { ctx.checkCancelled(); };
    cb.onStep = [&](int64_t step, int64_t total, double loss, double lr, double tps) {
        if (step % 10 == 0 || step + 1 == total) {
            ctx.metric("loss", step, loss);
            ctx.metric("lr", step, lr);
            ctx.progress(step + 1, total, "loss " + std::to_string(loss).substr(0, 6) + ", "
                                              + std::to_string(static_cast<int>(tps)) + " tok/s");
        }
    };
    cb.onEval = [&](int64_t step, const std::string &task, double acc) {
        ctx.metric("eval_accuracy/" + task, step, acc);
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
    NodeSpec s;
    s.type = "model.builtin";
    s.title = "Built-in reasoner";
    s.category = "Models";
    s.description = "A small Llama-style model pre-trained by QuantBench on generated GSM-style "
                    "and GPQA-style problems (shipped weights, or pre-trained here).";
    s.outputType = "model";
    ParamSpec preset{"preset", ParamKind::Enum, "tiny-reasoner", "Model size"};
    preset.choices = {"tiny-reasoner", "micro"};
    ParamSpec weights{"weights", ParamKind::Enum, "auto",
                      "auto: shipped weights when they match the recipe; train: always pre-train"};
    weights.choices = {"auto", "train"};
    ReasonerRecipe d;
    ParamSpec gpqaFormat{"gpqa_format", ParamKind::Enum, d.gpqaFormat,
                         "How GPQA-style examples are answered in training: the letter alone, or "
                         "the worked result, the choices checked against it, then the letter"};
    gpqaFormat.choices = {"gpqa_zeroshot", "gpqa_cot_zeroshot"};
    s.params = {preset, weights,
                {"steps", ParamKind::Int, d.steps, "Optimiser steps", 1.0, 1e7},
                {"batch_size", ParamKind::Int, d.batchSize, "Sequences per step", 1.0, 4096.0},
                {"lr", ParamKind::Float, d.lr, "Peak learning rate (AdamW)", 1e-6, 1.0},
                {"warmup", ParamKind::Int, d.warmup, "Linear warm-up steps", 0.0, 1e6},
                {"bf16", ParamKind::Bool, d.bf16, "bfloat16 autocast of matrix products"},
                {"number_features", ParamKind::Bool, d.numberFeatures,
                 "Train number embeddings factored over their digits and magnitude"},
                {"eval_every", ParamKind::Int, d.evalEvery, "Greedy evaluation period (0 = off)", 0.0, 1e7},
                {"eval_questions", ParamKind::Int, d.evalQuestions, "Held-out questions per task", 1.0, 1e5},
                {"gsm_examples", ParamKind::Int, d.gsmExamples, "Generated GSM-style examples", 1.0, 1e7},
                {"gpqa_examples", ParamKind::Int, d.gpqaExamples, "Generated GPQA-style examples", 0.0, 1e7},
                {"gpqa_share", ParamKind::Float, d.gpqaShare, "Share of each batch from the GPQA-style examples", 0.0, 1.0},
                gpqaFormat,
                {"max_value", ParamKind::Int, d.maxValue, "Largest value in a GSM-style problem", 10.0, 999.0},
                {"train_seed", ParamKind::Int, int64_t(d.seed), "Data and initialisation seed", 0.0, std::nullopt}};
    s.version = 3; // 2: solution lines restate their event; number features; 3: GPQA worked answers
    s.run = runBuiltin;
    registry.add(s);
}

} // namespace qb
