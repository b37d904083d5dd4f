#include "nodes/node_inputs.h"

#include "data/gsm8k.h"
#include "nodes/nodes.h"
#include "util/error.h"
#include "util/files.h"

namespace qb {

ModelBundle loadModelBundle(const Artifact &model)
{
    ModelBundle b = loadModelBundle(modelDir(model));
    b.provenance.label = model.meta.value("label", b.provenance.label);
    b.provenance.precision = model.meta.value("precision", b.provenance.precision);
    return b;
}

eval::QuestionSet loadDatasetQuestions(const Artifact &dataset, const eval::PromptOptions &options)
{
    const std::string task = dataset.meta.value("task", "");
    eval::Task t;
    try {
        t = eval::taskFromName(task);
    } catch (const Error &) {
        throw Error("dataset '" + dataset.nodeId + "' has unknown task '" + task + "'");
    }
    const auto file = dataset.dir / dataset.meta.at("file").get<std::string>();
    return eval::loadQuestions(t, file, options, dataset.meta.value("shuffle_seed", uint64_t(1234)));
}

nlohmann::json loadFewshotInput(NodeContext &ctx, eval::PromptOptions &options)
{
    if (!ctx.hasInput("fewshot"))
        return nullptr;
    const Artifact &f = ctx.input("fewshot");
    if (f.meta.value("task", "") != "gsm8k")
        throw Error("fewshot: dataset '" + f.nodeId + "' is not GSM8K");
    options.fewshotPool = data::loadGsm8k(f.dir / f.meta.at("file").get<std::string>());
    return f.key;
}

PortSpec fewshotInputSpec()
{
    return {"fewshot", "dataset", false, true,
            "gsm8k k-shot: the GSM8K records shots are drawn from (the train split)"};
}

eval::PromptOptions trainingPromptOptions(const nlohmann::json &p)
{
    eval::PromptOptions o;
    o.gsmFormat = data::promptFormatFromName(p.at("gsm_format").get<std::string>());
    o.gpqaFormat = data::promptFormatFromName(p.at("gpqa_format").get<std::string>());
    return o;
}

std::vector<ParamSpec> trainingPromptParams()
{
    return {ParamSpec::choice("gsm_format", "gsm8k", {"gsm8k", "gsm8k_cot"},
                              "Prompt and answer format of GSM-style examples"),
            ParamSpec::choice("gpqa_format", "gpqa_cot_zeroshot",
                              {"gpqa_zeroshot", "gpqa_cot_zeroshot"},
                              "Prompt and answer format of GPQA-style examples")};
}

TrainingInputs loadTrainingInputs(NodeContext &ctx)
{
    const Artifact &input = ctx.input("model");
    ctx.progress(0, 1, "loading " + input.nodeId);
    TrainingInputs in{loadModelBundle(input), {}, {}};
    const eval::PromptOptions prompts = trainingPromptOptions(ctx.params());
    for (const auto &d : ctx.inputs("train"))
        in.train.push_back(loadDatasetQuestions(d, prompts));
    for (const auto &d : ctx.inputs("eval")) {
        EvalSet e;
        e.name = d.nodeId;
        e.questions = loadDatasetQuestions(d, prompts);
        in.evalSets.push_back(std::move(e));
    }
    return in;
}

Artifact finishTrainingNode(NodeContext &ctx, const ModelBundle &trained, nlohmann::json summary,
                            const std::string &label, const std::string &precision,
                            const std::string &stage, const std::vector<std::string> &rowKeys)
{
    summary["label"] = label;
    writeFileAtomic(ctx.outDir() / "training.json", summary.dump(1) + "\n");
    nlohmann::json row = {{"model", ctx.nodeId()}, {"task", ctx.spec().type}, {"label", label}};
    for (const auto &k : rowKeys)
        if (summary.contains(k))
            row[k] = summary[k];
    ctx.addResult(row);
    Artifact a;
    a.meta = {{"label", label},
              {"precision", precision},
              {"stage", stage},
              {"base", ctx.input("model").nodeId},
              {"weight_bytes", trained.model->weightBytes()},
              {"trainable_parameters", summary["trainable_parameters"]}};
    return a;
}

} // namespace qb
