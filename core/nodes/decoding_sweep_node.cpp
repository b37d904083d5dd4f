// The decoding sweep node (evaluate.sweep): every connected model on every connected dataset at
// every decoding setting of the sweep (eval/decoding_sweep.h: prompt style x temperature x top-p x
// top-k, self-consistency maj@k from prefixes of one set of samples). One EvalRow per model x
// dataset x setting x k, with its decoding columns, the strict/flexible/unparsed audit and the
// drop from greedy; per-question records per row as the evaluate node writes them.
#include "api/node_context.h"
#include "api/results.h"
#include "eval/decoding_sweep.h"
#include "nodes/node_inputs.h"
#include "nodes/nodes.h"
#include "util/error.h"
#include "util/files.h"

#include <cstdio>

namespace fs = std::filesystem;
using nlohmann::json;

namespace qb {

namespace {

std::string sanitize(const std::string &s)
{
    std::string out;
    for (char c : s)
        out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') ? c : '_';
    return out;
}

std::string settingName(const DecodingSetting &d, int64_t k)
{
    char buf[96];
    std::snprintf(buf, sizeof buf, "%s_t%g_p%g_k%lld_maj%lld", d.promptStyle.c_str(), d.temperature,
                  d.topP, static_cast<long long>(d.topK), static_cast<long long>(k));
    return buf;
}

eval::SweepOptions sweepOptionsOf(const json &p, uint64_t seed)
{
    eval::SweepOptions o;
    o.temperatures = p.at("temperatures").get<std::vector<double>>();
    o.topPs = p.at("top_p").get<std::vector<double>>();
    o.topKs = p.at("top_k").get<std::vector<int64_t>>();
    o.styles = p.at("prompt_styles").get<std::vector<std::string>>();
    o.samples = p.at("samples").get<std::vector<int>>();
    o.maxNewTokens = p.at("max_new_tokens");
    o.batchSize = p.at("batch_size");
    o.seed = seed ^ p.at("seed").get<uint64_t>();
    o.validate();
    return o;
}

Artifact runSweep(NodeContext &ctx)
{
    const json &p = ctx.params();
    const eval::SweepOptions options = sweepOptionsOf(p, ctx.seed());
    eval::PromptOptions cot;
    cot.gsmFormat = data::promptFormatFromName(p.at("gsm_format").get<std::string>());
    cot.numFewshot = p.at("num_fewshot");
    loadFewshotInput(ctx, cot);
    const int64_t limit = p.at("limit");
    const auto &models = ctx.inputs("models");
    const auto &datasets = ctx.inputs("datasets");
    fs::create_directories(ctx.outDir() / "records");

    auto questionsOf = [&](const Artifact &d, const std::string &style) {
        eval::QuestionSet set = loadDatasetQuestions(d, eval::promptOptionsFor(style, cot));
        if (limit > 0 && int64_t(set.questions.size()) > limit)
            set.questions.resize(size_t(limit));
        return set;
    };
    auto sizeOf = [&](const Artifact &d) {
        const int64_t n = d.meta.value("n", int64_t(0));
        return limit > 0 ? std::min(n, limit) : n;
    };
    double totalWork = 0;
    for (const auto &d : datasets)
        totalWork += eval::sweepWork(options, sizeOf(d)) * double(models.size());
    double doneWork = 0;
    size_t rows = 0;

    for (const auto &m : models) {
        const ModelBundle bundle = loadModelBundle(m);
        const std::string label = m.meta.value("label", m.nodeId);
        const std::string precision = m.meta.value("precision", "fp32");
        for (const auto &d : datasets) {
            const std::string where = label + " on " + d.nodeId;
            WorkHooks hooks = ctx.hooks();
            hooks.progress = [&](double done, double, const std::string &) {
                ctx.progress(doneWork + done, totalWork, where);
            };
            auto onCell = [&](eval::SweepCell &&cell) {
                EvalRow &row = cell.row;
                row.model = m.nodeId;
                row.label = label;
                row.precision = precision;
                row.dataset = d.nodeId;
                row.stage = m.meta.value("stage", precision == "fp32" ? "full" : "quantized");
                row.weightBytes = bundle.model->weightBytes();
                const std::string setting = settingName(*row.decoding, row.selfConsistency);
                row.records = "records/" + sanitize(m.nodeId) + "__" + sanitize(d.nodeId) + "__"
                    + sanitize(setting) + ".jsonl";
                writeFileAtomic(ctx.outDir() / row.records, cell.report.recordsJsonl());
                const json rowJson = row.toJson();
                ctx.metric("sweep_accuracy/" + row.task, static_cast<double>(rows++),
                           row.accuracy, rowJson);
                ctx.log(where + " " + setting + ": accuracy " + std::to_string(row.accuracy)
                        + ", flexible " + std::to_string(row.flexibleAccuracy) + ", unparsed "
                        + std::to_string(row.unparsedRate) + " (n=" + std::to_string(row.n)
                        + ")");
                ctx.addResult(rowJson);
            };
            eval::sweepModel(
                eval::refOf(bundle),
                [&](const std::string &style) { return questionsOf(d, style); }, options, hooks,
                onCell);
            doneWork += eval::sweepWork(options, sizeOf(d));
        }
    }
    Artifact a;
    a.meta = {{"rows", rows}};
    return a;
}

} // namespace

namespace {

ParamSpec promptStylesSpec()
{
    ParamSpec p = ParamSpec::stringList(
        "prompt_styles", "cot (the model reasons first: the gsm_format prompt, gpqa_cot_zeroshot) "
                         "and/or direct (it answers at once: gsm8k_direct, gpqa_zeroshot)");
    p.defaultValue = json::array({"cot", "direct"});
    return p;
}

} // namespace

void registerSweepNodes(NodeRegistry &registry)
{
    NodeSpec s("evaluate.sweep", "Decoding sweep", "Evaluation", "evaluation",
               "Accuracy of every model on every dataset at every decoding setting: prompt style "
               "(chain of thought or direct answer) x temperature (0 = greedy) x top-p x top-k, "
               "with self-consistency maj@k for each k from prefixes of one set of k_max "
               "samples. Rows carry strict and flexible accuracy, the unparsed rate and the drop "
               "from greedy.");
    s.inputs = {{"models", "model", true, false, "Models (precisions) to compare"},
                {"datasets", "dataset", true, false, "GSM8K- and GPQA-format datasets"},
                fewshotInputSpec()};
    s.params = {
        ParamSpec::realList("temperatures", {0.0, 0.7},
                            "Sampling temperatures; 0 = greedy (one sample, top_p/top_k unused)")
            .range(0.0, 10.0),
        ParamSpec::realList("top_p", {1.0}, "Nucleus cut-offs tried at each temperature > 0")
            .range(0.0, 1.0),
        ParamSpec::intList("top_k", {0}, "Top-k cut-offs tried at each temperature > 0 (0 = all)")
            .atLeast(0),
        promptStylesSpec(),
        ParamSpec::intList("samples", {1, 5},
                           "k of self-consistency maj@k at each temperature > 0; the largest k "
                           "is sampled once and smaller k vote over its first k samples")
            .range(1.0, 64.0),
        ParamSpec::choice("gsm_format", "gsm8k", {"gsm8k", "gsm8k_cot"},
                          "GSM prompt of the cot style (gsm8k: the model writes its worked "
                          "solution; gsm8k_cot: 'Q: ..\\nA:' with exemplars)"),
        ParamSpec::integer("num_fewshot", 0,
                           "gsm8k_cot: standard exemplars (up to 8); gsm8k: shots drawn per "
                           "question from the fewshot input")
            .range(0, 8),
        ParamSpec::integer("limit", 0, "Questions per dataset (the first ones; 0 = all)")
            .atLeast(0),
        ParamSpec::integer("max_new_tokens", 160, "Longest completion in tokens").range(1, 32768),
        ParamSpec::integer("batch_size", 32, "Prompts decoded together").range(1, 1024),
        ParamSpec::integer("seed", 0, "Mixed with the experiment seed; every sampled setting "
                                      "uses the same seed (paired comparisons)")
            .atLeast(0)};
    s.run = runSweep;
    registry.add(s);
}

} // namespace qb
