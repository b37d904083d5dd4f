// Typed result rows: what nodes write to results.json and what charts, tables and the report read
// back. One struct per kind of row, each with toJson (the results.json keys, which are the file
// format) and fromJson (lenient about absent optional keys, so older run folders still read).
// Std-only (nlohmann::json as the document type); plain data, copy freely.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace qb {

// Accuracy over the questions whose reference solution has `steps` reasoning steps.
struct StepBucket
{
    int steps = 0;
    int64_t n = 0;
    int64_t correct = 0;
    double accuracy = 0;
    double ciLow = 0;
    double ciHigh = 0;
};

// The decoding setting a decoding-sweep row was measured with (evaluate rows have none: their
// decoding is the node's parameter block). Self-consistency's k is EvalRow::selfConsistency.
struct DecodingSetting
{
    double temperature = 0; // 0 = greedy
    double topP = 1;
    int64_t topK = 0;        // 0 = all tokens
    std::string promptStyle; // "cot" (the model reasons first) or "direct" (answer at once)
    // Accuracy of the same model, dataset and prompt style decoded greedy (one sample), when
    // the sweep measured it: the drop from greedy (greedy - accuracy) is what makes "sampling
    // temperature hurts more after quantization" checkable per temperature and precision.
    std::optional<double> greedyAccuracy;

    std::optional<double> dropFromGreedy(double accuracy) const
    {
        return greedyAccuracy ? std::optional<double>(*greedyAccuracy - accuracy) : std::nullopt;
    }
};

// One (model, dataset) evaluation: accuracy with its Wilson 95% interval and the costs.
struct EvalRow
{
    std::string model;     // node id of the model
    std::string label;     // method label, e.g. "nf4-dq-b64"
    std::string precision; // "fp32" or the quantization label
    std::string task;      // "gsm8k" or "gpqa"
    std::string dataset;   // node id of the dataset
    std::string format;    // prompt format, e.g. "gsm8k", "gpqa_cot_zeroshot"
    int64_t n = 0;
    double accuracy = 0;   // strict, in [0, 1]
    double ciLow = 0;
    double ciHigh = 0;
    double flexibleAccuracy = 0;
    double unparsedRate = 0;
    double meanGeneratedTokens = 0;
    double tokensPerSecond = 0; // generated tokens / generation time (prompt processing included)
    // Prompt tokens / time of the batched, left-padded prefills of the evaluation (pads computed
    // but not counted); absent in rows of older runs and of the no-cache reference decoding.
    std::optional<double> prefillTokensPerSecond;
    int64_t weightBytes = 0;
    // Memory the evaluation itself took on top of what the process held when it started (the
    // model already loaded): the resident-set high-water mark during it minus the RSS at its
    // start, after freed heap was returned to the system. Activations, KV cache and temporaries;
    // weight_bytes + this is the model's footprint while evaluating. Absent in older rows, in
    // rows served from older caches and where /proc cannot reset the mark.
    std::optional<int64_t> workingMemoryBytes;
    int64_t selfConsistency = 1;
    std::string records;                // per-question records file, relative to the node folder
    // Recovery study: "full", "quantized", or the training that made the model ("qlora",
    // "qalora", "qat"); base = the model node it was trained from (empty for full/quantized).
    std::string stage;
    std::string base;
    // How generation stored past keys and values ("fp32", "int8", "fp8", "int4"): part of a
    // W4A4KV4 configuration, so recovery compares a model with its base under the same cache.
    std::string kvCache = "fp32";
    // A non-default arithmetic the process ran with ("act-q8", "bf16", ...: quant/kernel_settings.h
    // resultArithmeticTag), empty for the default one.
    std::string arithmetic;
    std::optional<double> stepAccuracy; // gsm8k: mean fraction of reference steps reproduced
    std::vector<StepBucket> bySteps;    // gsm8k: accuracy per chain length, shortest first
    // Reasoning models: mean characters of thinking set aside before extraction, over the
    // completions that had a thinking section (data/answer_extract.h splitThinking).
    std::optional<double> meanThinkChars;
    // Decoding sweep rows: the setting (JSON keys temperature, top_p, top_k, prompt_style,
    // greedy_accuracy, drop_from_greedy).
    std::optional<DecodingSetting> decoding;

    nlohmann::json toJson() const;
    // Throws qb::Error when `accuracy` or `task` is missing or not of its type.
    static EvalRow fromJson(const nlohmann::json &row);
    // An evaluation row (has a numeric accuracy and a task), as opposed to quantize/analysis rows.
    static bool matches(const nlohmann::json &row);
};

// One quantized model as the quantize node reports it.
struct QuantRow
{
    std::string model;
    std::string label;
    int64_t weightBytes = 0;
    double bitsPerParam = 0;

    nlohmann::json toJson() const;
    static QuantRow fromJson(const nlohmann::json &row);
};

} // namespace qb
