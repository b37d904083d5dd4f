// The evaluate node: every connected model on every connected dataset through the evaluation
// library (eval/evaluator.h: lm-evaluation-harness prompts, stops and scoring, batched generation,
// self-consistency voting). Writes per-question records and one EvalRow per model x dataset.
// Each (model, dataset, settings) evaluation is a unit of the executor's unit cache: adding a
// model to the node evaluates that model only.
#include "api/node_context.h"
#include "api/results.h"
#include "eval/evaluator.h"
#include "nodes/node_inputs.h"
#include "nodes/nodes.h"
#include "quant/kernel_settings.h"
#include "util/error.h"
#include "util/files.h"
#include "util/process_memory.h"

#include <optional>

namespace fs = std::filesystem;
using nlohmann::json;

namespace qb {

namespace {

struct EvaluateParams
{
    eval::PromptOptions prompts;
    eval::EvalOptions options;
    bool chat = false; // prompts as a conversation through each model's chat template

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
        e.chat = p.at("chat").get<bool>();
        return e;
    }
};

// lm-eval's --apply_chat_template --fewshot_as_multiturn: each shot a user turn (its prompt
// text) and an assistant turn (its target), then the question's own text as the last user turn;
// the template adds the assistant's opening (add_generation_prompt).
nlohmann::ordered_json chatMessages(const eval::EvalQuestion &q)
{
    auto messages = nlohmann::ordered_json::array();
    for (const auto &shot : q.shots) {
        messages.push_back({{"role", "user"}, {"content", shot.user}});
        messages.push_back({{"role", "assistant"}, {"content", shot.assistant}});
    }
    messages.push_back({{"role", "user"}, {"content", q.turn}});
    return messages;
}

std::string sanitize(const std::string &s)
{
    std::string out;
    for (char c : s)
        out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') ? c : '_';
    return out;
}

Artifact runEvaluate(NodeContext &ctx)
{
    EvaluateParams params = EvaluateParams::fromJson(ctx.params(), ctx.seed());
    const json fewshotKey = loadFewshotInput(ctx, params.prompts);
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

    size_t evaluated = 0, reused = 0;
    for (const auto &m : models) {
        std::optional<ModelBundle> bundle; // loaded only when a unit is not in the cache
        const std::string label = m.meta.value("label", m.nodeId);
        for (const auto &d : datasets) {
            const std::string where = label + " on " + d.nodeId;
            // One unit per (model artifact, dataset artifact, settings): the row's numbers and
            // the records depend on nothing else; node ids and labels are filled in below.
            json unitDesc = {{"model", m.key}, {"dataset", d.key}, {"params", ctx.params()}};
            if (!fewshotKey.is_null())
                unitDesc["fewshot"] = fewshotKey;
            const std::string unit = ctx.unitKey(unitDesc);
            EvalRow row;
            std::string records;
            bool hit = false;
            if (const auto entry = ctx.findUnit(unit)) {
                try {
                    const size_t eol = entry->find('\n');
                    row = EvalRow::fromJson(json::parse(entry->substr(0, eol)));
                    if (eol == std::string::npos)
                        throw Error("no records after the row");
                    records = entry->substr(eol + 1);
                    hit = true;
                } catch (const std::exception &e) {
                    ctx.log(where + ": ignoring damaged evaluation cache entry " + unit + ": "
                            + e.what());
                }
            }
            if (hit) {
                ++reused;
                doneWork += double(row.n) * params.options.samples;
                ctx.progress(doneWork, totalWork, where + " (cached)");
            } else {
                if (!bundle)
                    bundle = loadModelBundle(m);
                eval::QuestionSet set = loadDatasetQuestions(d, params.prompts);
                if (params.chat)
                    for (auto &q : set.questions)
                        q.prompt = renderChat(*bundle, chatMessages(q), true);
                WorkHooks hooks = work;
                hooks.progress = [&](double done, double, const std::string &) {
                    ctx.progress(doneWork + done, totalWork, where);
                };
                // Working memory counts from here: the model is loaded, the evaluation not started.
                releaseFreedMemory();
                const bool peakReset = resetProcessPeakRss();
                const int64_t rssAtStart = processRssBytes();
                const auto report =
                    eval::evaluate(eval::refOf(*bundle), set, params.options, hooks);
                doneWork += double(set.questions.size()) * params.options.samples;
                row = report.summary.row(set);
                row.weightBytes = bundle->model->weightBytes();
                if (peakReset)
                    row.workingMemoryBytes
                        = std::max<int64_t>(0, processPeakRssBytes() - rssAtStart);
                records = report.recordsJsonl();
                const std::string head = row.toJson().dump(-1, ' ', false,
                                                           json::error_handler_t::replace) + "\n";
                ctx.storeUnit(unit, {head, records});
                ++evaluated;
            }

            row.model = m.nodeId;
            row.label = label;
            // Rows of the same model evaluated with a quantized KV cache or through its chat
            // template must stay apart in charts.
            if (params.chat)
                row.label += " chat";
            if (params.options.decoding.kvCache != KvCacheFormat::Fp32)
                row.label += std::string(" kv-") + kvCacheFormatName(params.options.decoding.kvCache);
            row.kvCache = kvCacheFormatName(params.options.decoding.kvCache);
            row.arithmetic = resultArithmeticTag();
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
            row.records = "records/" + sanitize(m.nodeId) + "__" + sanitize(d.nodeId) + ".jsonl";
            writeFileAtomic(ctx.outDir() / row.records, records);
            const json rowJson = row.toJson();
            // The step is the row's place in the table, not an x to plot against.
            ctx.metric("accuracy/" + row.task, static_cast<double>(rows++), row.accuracy, rowJson,
                       MetricX::None, "fraction");
            ctx.log(where + ": accuracy " + std::to_string(row.accuracy) + " (n="
                    + std::to_string(row.n) + ")");
            ctx.addResult(rowJson);
        }
    }
    ctx.log("evaluations: " + std::to_string(evaluated) + " run, " + std::to_string(reused)
            + " from the evaluation cache");
    Artifact a;
    // evaluated + reused == rows; the counts let tests and users see what the unit cache saved.
    a.meta = {{"rows", rows}, {"evaluated", evaluated}, {"reused", reused}};
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
                {"datasets", "dataset", true, false, "GSM8K- and GPQA-format datasets"},
                fewshotInputSpec()};
    e.params = {
        ParamSpec::choice("gsm_format", "gsm8k", {"gsm8k", "gsm8k_cot", "gsm8k_direct"},
                          "gsm8k: 'Question: ..\\nAnswer:'; gsm8k_cot: 'Q: ..\\nA:' with "
                          "exemplars; gsm8k_direct: 'Question: ..\\nAnswer: ####' (answer only)"),
        ParamSpec::choice("gpqa_format", "gpqa_zeroshot", {"gpqa_zeroshot", "gpqa_cot_zeroshot"},
                          "Zero-shot or chain-of-thought GPQA prompt"),
        ParamSpec::integer("num_fewshot", 0,
                           "gsm8k_cot: standard exemplars (up to 8); gsm8k: shots drawn per "
                           "question from the fewshot input (lm-eval's gsm8k uses 5)")
            .range(0, 8),
        ParamSpec::integer("batch_size", 32, "Prompts decoded together").range(1, 1024),
        ParamSpec::integer("self_consistency", 1,
                           "Samples per question, majority vote over extracted answers")
            .range(1, 64),
        decodingParamSpec(256),
        ParamSpec::boolean("chat", false,
                           "Prompts as a conversation rendered with each model's chat template "
                           "and its generation prompt: the question as a user message, k-shot "
                           "examples as earlier user/assistant turns (lm-eval's "
                           "--apply_chat_template --fewshot_as_multiturn)"),
        ParamSpec::choice("kv_cache", "fp32", {"fp32", "int8", "fp8", "int4"},
                          "How generation stores past keys and values: float32, or INT8 / FP8 "
                          "e4m3 (~3.6x smaller) or INT4 (two codes per byte, ~6.4x smaller) "
                          "with one absmax scale per position and head")};
    e.run = runEvaluate;
    registry.add(e);
}

} // namespace qb
