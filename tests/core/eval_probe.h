// Std-only bridge from tst_eval (Qt Test) to the evaluation library and the model bundle
// (eval_probe.cpp, torch side).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace evalprobe {

struct Record
{
    std::string id;
    std::string completion; // first sample
    std::vector<std::string> samples;
    std::string extracted;
    bool parsed = false;
    std::string gold;
    bool correct = false;
};

struct Report
{
    std::vector<Record> records;
    int64_t n = 0;
    int64_t correct = 0;
    int64_t unparsed = 0;
    double accuracy = 0;
    std::string rowJson; // the EvalRow the summary gives
};

// The shipped tiny-reasoner (resources/) on the first n generated GSM-style test problems.
Report evaluateShipped(int n, int batchSize, const std::string &strategy, int samples,
                       double temperature, uint64_t seed);

struct BundleInfo
{
    std::vector<int64_t> endTokens;
    bool doSample = false;
    double temperature = 1.0;
    int64_t topK = 0;
    std::string format;
    std::string label;
    std::string codecName;
};

// A random model folder (config.json eos id `eos`, vocabulary `vocab`, no tokenizer).
void writeRandomModel(const std::string &dir, int64_t vocab, int64_t eos);
// The same folder saved as a quantized checkpoint (no layer changed) labelled `label`.
void writeQuantizedCopy(const std::string &from, const std::string &to, const std::string &label);
BundleInfo loadBundle(const std::string &dir); // throws qb::Error
// The error of encoding text with the folder's codec ("" when it encodes).
std::string encodeError(const std::string &dir);
// The folder's bundle renders messagesJson (a JSON list) with its chat template (renderChat).
std::string renderBundleChat(const std::string &dir, const std::string &messagesJson,
                             bool addGenerationPrompt); // throws qb::Error

} // namespace evalprobe
