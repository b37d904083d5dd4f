#include "api/results.h"

#include "util/error.h"

using nlohmann::json;

namespace qb {

json EvalRow::toJson() const
{
    json row{{"model", model},
             {"label", label},
             {"precision", precision},
             {"task", task},
             {"dataset", dataset},
             {"format", format},
             {"n", n},
             {"accuracy", accuracy},
             {"ci_low", ciLow},
             {"ci_high", ciHigh},
             {"flexible_accuracy", flexibleAccuracy},
             {"unparsed_rate", unparsedRate},
             {"mean_generated_tokens", meanGeneratedTokens},
             {"tokens_per_second", tokensPerSecond},
             {"weight_bytes", weightBytes},
             {"self_consistency", selfConsistency},
             {"records", records},
             {"stage", stage}};
    if (prefillTokensPerSecond)
        row["prefill_tokens_per_second"] = *prefillTokensPerSecond;
    if (workingMemoryBytes)
        row["working_memory_bytes"] = *workingMemoryBytes;
    if (!base.empty())
        row["base"] = base;
    if (kvCache != "fp32")
        row["kv_cache"] = kvCache;
    if (!arithmetic.empty())
        row["arithmetic"] = arithmetic;
    if (stepAccuracy)
        row["step_accuracy"] = *stepAccuracy;
    if (meanThinkChars)
        row["mean_think_chars"] = *meanThinkChars;
    if (!bySteps.empty()) {
        json buckets = json::array();
        for (const auto &b : bySteps)
            buckets.push_back({{"steps", b.steps}, {"n", b.n}, {"correct", b.correct},
                               {"accuracy", b.accuracy}, {"ci_low", b.ciLow},
                               {"ci_high", b.ciHigh}});
        row["by_steps"] = buckets;
    }
    if (decoding) {
        row["temperature"] = decoding->temperature;
        row["top_p"] = decoding->topP;
        row["top_k"] = decoding->topK;
        row["prompt_style"] = decoding->promptStyle;
        if (decoding->greedyAccuracy) {
            row["greedy_accuracy"] = *decoding->greedyAccuracy;
            row["drop_from_greedy"] = *decoding->dropFromGreedy(accuracy);
        }
    }
    return row;
}

bool EvalRow::matches(const json &row)
{
    return row.is_object() && row.contains("accuracy") && row["accuracy"].is_number()
        && row.contains("task") && row["task"].is_string();
}

EvalRow EvalRow::fromJson(const json &row)
{
    if (!matches(row))
        throw Error("not an evaluation row (needs a numeric 'accuracy' and a 'task'): "
                    + row.dump(-1, ' ', false, json::error_handler_t::replace));
    auto str = [&](const char *key) {
        auto it = row.find(key);
        return it != row.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    auto num = [&](const char *key, double fallback) {
        auto it = row.find(key);
        return it != row.end() && it->is_number() ? it->get<double>() : fallback;
    };
    EvalRow r;
    r.model = str("model");
    r.label = str("label");
    r.precision = str("precision");
    r.task = str("task");
    r.dataset = str("dataset");
    r.format = str("format");
    r.n = static_cast<int64_t>(num("n", 0));
    r.accuracy = num("accuracy", 0);
    r.ciLow = num("ci_low", r.accuracy);
    r.ciHigh = num("ci_high", r.accuracy);
    r.flexibleAccuracy = num("flexible_accuracy", 0);
    r.unparsedRate = num("unparsed_rate", 0);
    r.meanGeneratedTokens = num("mean_generated_tokens", 0);
    r.tokensPerSecond = num("tokens_per_second", 0);
    r.weightBytes = static_cast<int64_t>(num("weight_bytes", 0));
    r.selfConsistency = static_cast<int64_t>(num("self_consistency", 1));
    r.records = str("records");
    r.stage = str("stage");
    r.base = str("base");
    r.kvCache = row.contains("kv_cache") ? str("kv_cache") : std::string("fp32");
    r.arithmetic = row.contains("arithmetic") ? str("arithmetic") : std::string();
    if (row.contains("prefill_tokens_per_second") && row["prefill_tokens_per_second"].is_number())
        r.prefillTokensPerSecond = row["prefill_tokens_per_second"].get<double>();
    if (row.contains("working_memory_bytes") && row["working_memory_bytes"].is_number())
        r.workingMemoryBytes = static_cast<int64_t>(row["working_memory_bytes"].get<double>());
    if (row.contains("step_accuracy") && row["step_accuracy"].is_number())
        r.stepAccuracy = row["step_accuracy"].get<double>();
    if (row.contains("mean_think_chars") && row["mean_think_chars"].is_number())
        r.meanThinkChars = row["mean_think_chars"].get<double>();
    if (row.contains("by_steps") && row["by_steps"].is_array())
        for (const auto &b : row["by_steps"]) {
            if (!b.is_object())
                continue;
            StepBucket s;
            s.steps = b.value("steps", 0);
            s.n = b.value("n", int64_t(0));
            s.correct = b.value("correct", int64_t(0));
            s.accuracy = b.value("accuracy", 0.0);
            s.ciLow = b.value("ci_low", s.accuracy);
            s.ciHigh = b.value("ci_high", s.accuracy);
            r.bySteps.push_back(s);
        }
    if (row.contains("prompt_style") && row["prompt_style"].is_string()) {
        DecodingSetting d;
        d.promptStyle = str("prompt_style");
        d.temperature = num("temperature", 0);
        d.topP = num("top_p", 1);
        d.topK = static_cast<int64_t>(num("top_k", 0));
        if (row.contains("greedy_accuracy") && row["greedy_accuracy"].is_number())
            d.greedyAccuracy = row["greedy_accuracy"].get<double>();
        r.decoding = d;
    }
    return r;
}

json QuantRow::toJson() const
{
    return {{"model", model},
            {"label", label},
            {"weight_bytes", weightBytes},
            {"bits_per_param", bitsPerParam}};
}

QuantRow QuantRow::fromJson(const json &row)
{
    QuantRow r;
    r.model = row.value("model", "");
    r.label = row.value("label", "");
    r.weightBytes = row.value("weight_bytes", int64_t(0));
    r.bitsPerParam = row.value("bits_per_param", 0.0);
    return r;
}

} // namespace qb
