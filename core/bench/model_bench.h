// quantbench-cli bench model: memory and speed of one model per precision, the table the
// quantization articles print. Each precision loads the dense model afresh, quantizes it through
// the quantize path (quant/quantize_model.h) and times generation (model/generation.h, greedy, no
// end token so every row draws exactly the requested tokens) at three shapes: prefill (one prompt
// of n tokens, one token drawn), decode at batch 1 and decode at batch B over the same
// GSM-style prompts for every precision. Generation times its own prefills (GenerationStats):
// prefill rates use that time, decode rates the rest of the call over the N - 1 tokens a row
// drawn after the prefill's, so prompt processing is not counted as decoding.
// Peak memory is the process's resident-set high-water mark (VmHWM, reset through
// /proc/self/clear_refs after the precision's model is built) during its timed runs; it includes
// the process's own baseline (libtorch, tokenizer), reported beside it.
// Std-only API for the CLI; runs on the calling thread with torch's intra-op pool.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace qb::bench {

struct ModelBenchOptions
{
    bool quick = false;
    // Items as parsePrecision() reads them; empty: defaultPrecisions(). fp32 is always measured
    // (first) as the reference of the ratios.
    std::vector<std::string> precisions;
    int batch = 64;             // rows decoded together in the batched decode
    int batch1Prompts = 4;      // prompts decoded one at a time in the batch-1 decode
    int64_t prefillTokens = 0;  // 0: min(256, positions - 1)
    int64_t newTokens = 128;    // per row in the decode runs (capped by the model's positions)
    int repeats = 5;            // timed runs per shape after one warm-up; the median is reported
};

// The default rows after fp32: int8, llm_int8, nf4-b64, nf4-dq, int4-g128, int3-g128, int2-g64.
std::vector<std::string> defaultPrecisions();

struct ModelBenchRow
{
    std::string precision;    // the name asked for ("fp32", "nf4-dq", "int bits=4 ...")
    std::string label;        // the method's label ("nf4-dq-b64"), "fp32" for the dense model
    nlohmann::json method;    // the method's settings (MethodSpec::toJson), null for fp32
    int64_t weightBytes = 0;  // every weight of the model as stored (Transformer::weightBytes)
    int64_t linearParameters = 0;  // of the quantized linears (fp32: those quantize would select)
    int64_t linearWeightBytes = 0; // their stored bytes (codes + scales + zeros), without bias
    double bitsPerWeight = 0;      // 8 linearWeightBytes / linearParameters (fp32: 32)
    int64_t peakRssBytes = 0;      // VmHWM during this precision's timed runs
    double prefillTokensPerSecond = 0;
    double decode1TokensPerSecond = 0;
    double decodeBatchTokensPerSecond = 0;
    double quantizeSeconds = 0;
};

struct ModelBenchReport
{
    std::string model; // what the user named
    std::string dir;   // the dense model folder measured
    int threads = 0;
    std::string kernelPath;
    int batch = 0;
    int batch1Prompts = 0;
    int64_t prefillTokens = 0;
    int64_t newTokens = 0;
    double meanPromptTokens = 0; // of the decode prompts
    int repeats = 0;
    int64_t baselineRssBytes = 0; // VmRSS before any model was loaded
    bool peakReset = false;       // false: /proc/self/clear_refs refused, peaks are since start
    std::vector<ModelBenchRow> rows;

    // Markdown table; ratios to the fp32 row.
    std::string table() const;
    nlohmann::ordered_json toJson() const;
};

// A precision item: "fp32"; a name of the default set ("int8", "llm_int8", "nf4-b64", "nf4-dq",
// "int4-g128", "int3-g128", "int2-g64") or the label of one ("nf4-dq-b64", "int4-g128-asym");
// or "METHOD key=value ..." read as the quantize node's overrides are
// (quant/quantize_model.h parseMethodSettings), e.g. "nf4 block_size=128 double_quant=true".
// Returns the method's label; throws qb::Error naming the item for an unknown method or key.
std::string checkPrecision(const std::string &item);

// Splits "a,b,c" into trimmed items (empty items are an error naming the list).
std::vector<std::string> splitPrecisions(const std::string &list);

// The dense model folder named by `source`: "builtin" or "builtin:PRESET" (the model.builtin
// node, run through the executor and its cache), a model folder (config.json), or an
// experiment file whose model node (`node`, or its only model.* node) is run the same way.
// Throws qb::Error naming `source` when it is none of these.
std::filesystem::path resolveBenchModel(const std::string &source, const std::string &node,
                                        const std::function<void(const std::string &)> &progress);

// progress: one line per finished step (may be empty). Throws qb::Error for a bad precision
// (before anything is measured) or a folder that is not a dense model.
ModelBenchReport runModelBench(const std::filesystem::path &dir, const ModelBenchOptions &options,
                               const std::function<void(const std::string &)> &progress = {});

} // namespace qb::bench
