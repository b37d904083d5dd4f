// The evaluate node: every connected model on every connected dataset through the evaluation
// library (eval/evaluator.h: lm-evaluation-harness prompts, stops and scoring, batched generation,
// self-consistency voting). Writes per-question records and one EvalRow per model x dataset.
#include "api/node_context.h"
#include "api/results.h"
#include "eval/evaluator.h"
#include "nodes/node_inputs.h"
#include "nodes/nodes.h"
#include "util/error.h"
#include "util/files.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace qb {

namespace {

struct EvaluateParams
{
    eval::PromptOptions prompts;
    eval::EvalOptions options;

    static EvaluateParams fromJson(const json &p, uint64_t seed)
    {
        EvaluateParams e;
        e.prompts.gsmFormat = data::promptFormatFromName(p.at("gsm_format").get<std::string>());
        e.prompts.gpqaFormat = data::promptFormatFromName(p.at("gpqa_format").get<std::string>());
        e.prompts.numFewshot = p.at("num_fewshot");
        e.options.batchSize = p.at("batch_size");
        e.options.samples = p.at("self_consistency");
        e.options.decoding = decodingFromJson(p.at("decoding"), seed);
        e.options.decoding.kvCache = kvCacheFormatFromName(p.at("kv_cache").get<std::string>());
        return e;
    }
};

std::string sanitize(const std::string &s)
{
    std::string out;
    for (char c : s)
        out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') ? c : '_';
    return out;
}

Artifact runEvaluate(NodeContext &ctx)
{
    const EvaluateParams params = EvaluateParams::fromJson(ctx.params(), ctx.seed());
    const auto &models = ctx.inputs("models");
    const auto &datasets = ctx.inputs("datasets");
    fs::create_directories(ctx.outDir() / "records");
    int64_t totalQuestions = 0;
    for (const auto &d : datasets)
        totalQuestions += d.meta.value("n", 0);
    const double totalWork = double(totalQuestions) * models.size() * params.options.samples;
    double doneWork = 0;
    const WorkHooks work = ctx.hooks();
    size_t rows = 0;

    for (const auto &m : models) {
        const ModelBundle bundle = loadModelBundle(m);
        const std::string label = m.meta.value("label", m.nodeId);
        for (const auto &d : datasets) {
            const eval::QuestionSet set = loadDatasetQuestions(d, params.prompts);
            const std::string where = label + " on " + d.nodeId;
            WorkHooks hooks = work;
            hooks.progress = [&](double done, double, const std::string &) {
                ctx.progress(doneWork + done, totalWork, where);
            };
            const auto report = eval::evaluate(eval::refOf(bundle), set, params.options, hooks);
            doneWork += double(set.questions.size()) * params.options.samples;

            EvalRow row = report.summary.row(set);
            row.model = m.nodeId;
            row.label = label;
            // Rows of the same model evaluated with a quantized KV cache must stay apart in charts.
            if (params.options.decoding.kvCache != KvCacheFormat::Fp32)
                row.label += std::string(" kv-") + kvCacheFormatName(params.options.decoding.kvCache);
            row.precision = m.meta.value("precision", "fp32");
            row.dataset = d.nodeId;
            row.stage = m.meta.value("stage", row.precision == "fp32" ? "full" : "quantized");
            row.base = m.meta.value("base", "");
            // QAT starts from full precision: its drop to recover is that of the quantized
            // model of the same format evaluated here, when there is one.
            if (m.meta.contains("target_label"))
                for (const auto &other : models)
                    if (other.meta.value("label", "") == m.meta["target_label"])
                        row.base = other.nodeId;
            row.weightBytes = bundle.model->weightBytes();
            row.records = "records/" + sanitize(m.nodeId) + "__" + sanitize(d.nodeId) + ".jsonl";
            writeFileAtomic(ctx.outDir() / row.records, report.recordsJsonl());
            const json rowJson = row.toJson();
            ctx.metric("accuracy/" + row.task, static_cast<double>(rows++), row.accuracy, rowJson);
            ctx.log(where + ": accuracy " + std::to_string(row.accuracy) + " (n="
                    + std::to_string(row.n) + ")");
            ctx.addResult(rowJson);
        }
    }
    Artifact a;
    a.meta = {{"rows", rows}};
    return a;
}

} // namespace

void registerEvaluateNodes(NodeRegistry &registry)
{
    NodeSpec e("evaluate", "Evaluate", "Evaluation", "evaluation",
                 "Accuracy of every model on every dataset, scored as lm-evaluation-harness "
                 "does (strict and flexible extraction), with 95% intervals and per-question "
                 "records.");
    e.inputs = {{"models", "model", true, false, "Models to compare"},
                {"datasets", "dataset", true, false, "GSM8K- and GPQA-format datasets"}};
    e.params = {
        ParamSpec::choice("gsm_format", "gsm8k", {"gsm8k", "gsm8k_cot"},
                          "gsm8k: 'Question: ..\\nAnswer:'; gsm8k_cot: 'Q: ..\\nA:' with exemplars"),
        ParamSpec::choice("gpqa_format", "gpqa_zeroshot", {"gpqa_zeroshot", "gpqa_cot_zeroshot"},
                          "Zero-shot or chain-of-thought GPQA prompt"),
        ParamSpec::integer("num_fewshot", 0, "Chain-of-thought exemplars (gsm8k_cot)").range(0, 8),
        ParamSpec::integer("batch_size", 32, "Prompts decoded together").range(1, 1024),
        ParamSpec::integer("self_consistency", 1,
                           "Samples per question, majority vote over extracted answers")
            .range(1, 64),
        decodingParamSpec(256),
        ParamSpec::choice("kv_cache", "fp32", {"fp32", "int8", "fp8"},
                          "How generation stores past keys and values: float32, or INT8 / FP8 "
                          "e4m3 with one absmax scale per position and head (~3.6x smaller)")};
    e.run = runEvaluate;
    registry.add(e);
}

} // namespace qb
