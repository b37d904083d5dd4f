// DecodingConfig: how completions are produced (greedy or sampled, limits, stop strings). Plain data
// shared by the model, the evaluation node, the CLI and the GUI inspector.
#pragma once
#include "util/error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace qb {

// How the KV cache of generation stores keys and values: float32, or quantized per position and
// head (INT8 absmax, FP8 e4m3 with an absmax / 448 scale, INT4 absmax packed two codes per
// byte); model/kv_cache.h states the error.
enum class KvCacheFormat { Fp32, Int8, Fp8, Int4 };

inline const char *kvCacheFormatName(KvCacheFormat f)
{
    return f == KvCacheFormat::Int8 ? "int8"
        : f == KvCacheFormat::Fp8   ? "fp8"
        : f == KvCacheFormat::Int4  ? "int4"
                                    : "fp32";
}

// "fp32", "int8", "fp8" or "int4"; throws qb::Error naming the choices otherwise.
inline KvCacheFormat kvCacheFormatFromName(const std::string &name)
{
    for (auto f : {KvCacheFormat::Fp32, KvCacheFormat::Int8, KvCacheFormat::Fp8,
                   KvCacheFormat::Int4})
        if (name == kvCacheFormatName(f))
            return f;
    throw Error("kv_cache '" + name + "' is not one of fp32, int8, fp8, int4");
}

struct DecodingConfig
{
    std::string strategy = "greedy"; // "greedy" or "sample"
    double temperature = 1.0;        // sample: logits are divided by it
    int64_t topK = 0;                // sample: keep the k most likely tokens; 0 = all
    double topP = 1.0;               // sample: keep the smallest set with mass >= top_p
    int64_t maxNewTokens = 64;
    std::vector<std::string> stopStrings; // generation of a row ends once its text contains one
    uint64_t seed = 0;                    // sampling seed; same seed and threads, same tokens
    bool useCache = true;                 // false recomputes the whole prefix each step (for tests)
    KvCacheFormat kvCache = KvCacheFormat::Fp32;
    // With more prompts than rows decoded together: a finished row's place goes to the next
    // waiting prompt (continuous batching) instead of the next batch starting when this one is
    // empty. Off by default: finished rows leave the batch either way, and on CPU the refills'
    // cache copies and small prefills cost more than they save (docs/generation.md).
    bool refill = false;
};

} // namespace qb
