// The finetune node: recovery training over a (quantized) model (train/finetune.h).
//   qlora  -> merge none: a PEFT adapter folder (adapter_config.json, adapter_model.safetensors)
//             whose base_model_name_or_path is the input model's folder; loadModelBundle loads
//             the pair as one model (adapters unmerged over the packed base). merge dense: the
//             merged full-precision model; merge quantized: W + BA re-quantized with the base's
//             method, the rounding error per layer as merge_rel_error events and result rows;
//             both keep the adapter under adapter/.
//   qalora -> a quantized checkpoint with the adapters merged exactly into the zero points.
//   qat    -> a quantized checkpoint of the chosen format (input: the full-precision model).
// Events: loss, lr and grad_norm every 5 steps; eval_accuracy/<dataset> every eval_every steps.
// A cancelled or killed run resumes from its last checkpoint (the node's resume folder).
#include "api/node_context.h"
#include "nodes/node_inputs.h"
#include "nodes/nodes.h"
#include "quant/method_registry.h"
#include "quant/quant_checkpoint.h"
#include "train/finetune.h"
#include "train/lora.h"
#include "util/error.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace qb {

namespace {

Artifact runFinetune(NodeContext &ctx)
{
    const json &p = ctx.params();
    const FinetuneRecipe recipe = FinetuneRecipe::fromJson(p);
    const Artifact &input = ctx.input("model");
    const fs::path baseDir = modelDir(input);
    TrainingInputs in = loadTrainingInputs(ctx);
    ModelBundle &bundle = in.bundle;

    FinetuneHooks hooks;
    hooks.work = ctx.hooks();
    hooks.work.progress = {}; // progress comes from onStep
    hooks.onStep = [&](int64_t step, int64_t total, double loss, double lr, double gradNorm,
                       double tps) {
        if (step % 5 == 0 || step + 1 == total) {
            ctx.metric("loss", double(step), loss, {}, MetricX::Step, "nats");
            ctx.metric("lr", double(step), lr, {}, MetricX::Step, "learning rate");
            ctx.metric("grad_norm", double(step), gradNorm, {}, MetricX::Step, "norm");
        }
        ctx.progress(double(step + 1), double(total),
                     "loss " + std::to_string(loss).substr(0, 6) + ", "
                         + std::to_string(static_cast<int>(tps)) + " tok/s");
    };
    hooks.onEval = [&](int64_t step, const std::string &dataset, double acc) {
        ctx.metric("eval_accuracy/" + dataset, double(step), acc, {}, MetricX::Step, "fraction");
        ctx.log("step " + std::to_string(step) + ": greedy accuracy on " + dataset + " "
                + std::to_string(acc));
    };
    fs::create_directories(ctx.resumeDir());
    const FinetuneResult result = finetune(bundle, recipe, in.train, in.evalSets, ctx.resumeDir(), hooks);

    const std::string baseLabel = input.meta.value("label", input.nodeId);
    std::string label;
    const std::string merge = p.at("merge").get<std::string>();
    if (recipe.method == "qlora" && merge == "none") {
        label = baseLabel + "+qlora-r" + std::to_string(recipe.lora.rank);
        saveLoraAdapter(*bundle.model, recipe.lora, ctx.outDir(), fs::absolute(baseDir).string());
    } else if (recipe.method == "qlora") {
        // The adapter stays beside the merged model, for PEFT and for a later merge.
        saveLoraAdapter(*bundle.model, recipe.lora, ctx.outDir() / "adapter",
                        fs::absolute(baseDir).string());
        if (merge == "dense") {
            label = baseLabel + "+qlora-r" + std::to_string(recipe.lora.rank) + "-merged-fp32";
            mergeLoraDense(*bundle.model);
            bundle.model->save(ctx.outDir());
        } else {
            label = baseLabel + "+qlora-r" + std::to_string(recipe.lora.rank) + "-merged";
            const auto errors = mergeLoraQuantized(*bundle.model);
            for (size_t i = 0; i < errors.size(); ++i) {
                const json row = {{"layer", errors[i].name}, {"rel_error", errors[i].relError},
                                  {"delta_rel_norm", errors[i].deltaRelNorm},
                                  {"method", errors[i].method},
                                  {"rtn_fallback", errors[i].rtnFallback}};
                ctx.metric("merge_rel_error", double(i), errors[i].relError, row, MetricX::Layer,
                           "relative error");
                json result = row;
                result["model"] = ctx.nodeId();
                result["analysis"] = "merge.layer";
                ctx.addResult(result);
            }
            saveQuantizedModel(*bundle.model, ctx.outDir(), {{"label", label}});
        }
    } else if (recipe.method == "qalora") {
        label = baseLabel + "+qalora-r" + std::to_string(recipe.lora.rank);
        saveQuantizedModel(*bundle.model, ctx.outDir(),
                           {{"label", label}, {"finetune", result.summary.value("method", "")}});
    } else {
        label = "qat-" + recipe.qatSpec.label();
        saveQuantizedModel(*bundle.model, ctx.outDir(), {{"label", label}});
    }
    copyTokenizerFiles(baseDir, ctx.outDir());
    const json &summary = result.summary;
    ctx.log(label + ": " + std::to_string(summary["trainable_parameters"].get<int64_t>())
            + " trainable parameters, final loss " + std::to_string(summary["final_loss"].get<double>())
            + ", " + std::to_string(summary["minutes"].get<double>()).substr(0, 5) + " min");
    const std::string precision = recipe.method == "qlora" && merge != "quantized"
        ? (merge == "dense" ? std::string("fp32") : input.meta.value("precision", "fp32"))
        : label;
    Artifact a = finishTrainingNode(ctx, bundle, summary, label, precision, recipe.method,
                                    {"method", "trainable_parameters", "trainable_fraction",
                                     "adapter_bytes", "final_loss", "minutes", "peak_memory_mib",
                                     "steps", "eval_before_merge", "eval_after_merge"});
    if (recipe.method == "qat")
        a.meta["target_label"] = recipe.qatSpec.label();
    return a;
}

} // namespace

void registerFinetuneNodes(NodeRegistry &registry)
{
    NodeSpec n("finetune", "Fine-tune (QLoRA / QA-LoRA / QAT)", "Recovery", "model",
                 "Wins accuracy back: LoRA adapters over the frozen (quantized) base (QLoRA), "
                 "group-aware QA-LoRA merged exactly into an INT-k base, or quantization-aware "
                 "training of the full-precision weights. Loss on answer tokens, periodic "
                 "evaluation, resumable checkpoints.");
    n.inputs = {{"model", "model", false, false,
                 "qlora / qalora: the quantized (or dense) base; qat: the full-precision model"},
                {"train", "dataset", true, false, "Training questions with their solutions"},
                {"eval", "dataset", true, true, "Held-out questions for periodic evaluation"}};
    const std::vector<std::string> lora = {"qlora", "qalora"};
    n.params = {
        ParamSpec::choice("method", "qlora", {"qlora", "qalora", "qat"},
                          "qlora: LoRA over the frozen base; qalora: group-pooled LoRA merged "
                          "into the INT-k base; qat: fake-quantized training of the weights"),
        ParamSpec::integer("rank", 16, "LoRA rank r").range(1, 1024).onlyWhen("method", lora),
        ParamSpec::real("alpha", 32, "LoRA alpha: the update is scaled by alpha/r")
            .range(0, 1e6)
            .onlyWhen("method", lora),
        ParamSpec::real("dropout", 0.05, "Dropout on the adapter input while training")
            .range(0, 0.9)
            .onlyWhen("method", lora),
        ParamSpec::boolean("rslora", false, "Rank-stabilised scale alpha/sqrt(r)")
            .onlyWhen("method", lora),
        ParamSpec::stringList("targets",
                              "Glob patterns of linears to adapt (qat: to train); empty = every "
                              "linear of the decoder (lm_head excluded)"),
        ParamSpec::choice("merge", "none", {"none", "dense", "quantized"},
                          "qlora: keep the adapter (PEFT folder over the base), merge it into "
                          "full precision (exact), or merge and re-quantize with the base's "
                          "method (the rounding error per layer is reported)")
            .onlyWhen("method", {"qlora"}),
        ParamSpec::object("qat", quantMethodParams("int"), "qat: the format trained for")
            .onlyWhen("method", {"qat"}),
        ParamSpec::boolean("learn_scales", false,
                           "qat with method int: learn the group scales (LSQ) with the weights")
            .onlyWhen("method", {"qat"}),
        ParamSpec::integer("steps", 300, "Optimizer steps").range(1, 1e7),
        ParamSpec::integer("batch_size", 16, "Examples per micro-batch").range(1, 4096),
        ParamSpec::integer("grad_accum", 1, "Micro-batches per optimizer step").range(1, 1024),
        ParamSpec::real("lr", 1e-3, "Peak learning rate (AdamW)").range(1e-7, 1.0),
        ParamSpec::choice("schedule", "cosine", {"cosine", "constant"},
                          "After warm-up: cosine to 10% of lr, or constant"),
        ParamSpec::integer("warmup", 20, "Linear warm-up steps").range(0, 1e6),
        ParamSpec::real("max_grad_norm", 1.0, "Gradient clipping (global L2 norm)").range(0, 1e6),
        ParamSpec::real("weight_decay", 0.0, "AdamW weight decay").range(0, 1),
        ParamSpec::integer("max_seq_len", 256, "Longest training example in tokens")
            .range(8, 1 << 16),
        ParamSpec::boolean("answer_only", true, "Loss on answer tokens only (not the prompt)"),
        ParamSpec::integer("eval_every", 100, "Periodic evaluation (0 = off)").range(0, 1e7),
        ParamSpec::integer("checkpoint_every", 50, "Resumable checkpoints (0 = off)").range(0, 1e7),
        ParamSpec::integer("train_seed", 1234, "Data order, initialisation and dropout seed")
            .atLeast(0)};
    for (auto &spec : trainingPromptParams())
        n.params.push_back(std::move(spec));
    n.version = 2; // 2: qalora scores the held-out sets before and after its merge
    n.run = runFinetune;
    registry.add(n);
}

} // namespace qb
