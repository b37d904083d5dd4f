// Torch side of tst_gguf: builds tiny models, exports and imports them, and returns plain numbers
// for the Qt test to check. Std-only interface.
#pragma once
#include <string>
#include <vector>

namespace gguf_probe {

// F32 export -> import of a random model (modelType "llama" or "qwen2" with q/k/v biases; tied
// or untied embeddings): the largest |logit difference| (0 when the round trip is exact).
double f32RoundTripLogitDiff(const std::string &dir, const std::string &modelType, bool tied);

struct QuantCheck
{
    // The imported op's dequantized weight vs the test's own block round trip.
    double maxWeightDiff = -1;
    double maxLogitDiff = -1;  // imported model vs a dense model holding those weights
    double logitScale = 0;     // max |logit| of the reference
    bool packedOps = false;    // every imported linear is a packed (non-dense) op
};
// type: "q8_0" or "q4_0". The expected weights are computed here with torch ops from ggml's
// rounding rules, independently of kernels/gguf_blocks.
QuantCheck quantizedRoundTrip(const std::string &dir, const std::string &type,
                              const std::string &modelType);

// Attention scores of the exported (permuted) q/k rows under GGML's interleaved-pair rotary,
// written naively, against HF rotate-half on the original rows: the largest difference, and the
// largest score magnitude (for scale).
struct RopeCheck
{
    double maxDiff = -1;
    double maxScore = 0;
    double maxDiffUnpermuted = -1; // the same formula on unpermuted rows (must differ)
};
RopeCheck ropeScores(const std::string &dir);

// The shipped built-in model (folder `src`) exported as `type` and imported: "" when the codec
// encodes a sample text to the same ids and (for f32) the logits are identical, else what differs.
std::string builtinRoundTrip(const std::string &src, const std::string &dir,
                             const std::string &type);

// A 1-layer random model of `modelType` sized to the tokenizer.json at `tokenizerPath` (plus 7
// rows the tokenizer does not have) exported as f32 to dir/name and imported: "" when the imported
// codec encodes a sample text to the same ids as the tokenizer itself, else what differs.
std::string tokenizerExport(const std::string &tokenizerPath, const std::string &modelType,
                            const std::string &path);

// ggufRopeRowOrder as plain ints.
std::vector<long long> ropeRowOrder(long long heads, long long headDim);

// A model whose layer-0 q_proj is an int4 group-32 op (so its dense weight is dequantized)
// exported as q8_0 and imported: the largest difference between the imported weight and the
// test's Q8_0 round trip of the int4 op's dequantized weight (0 when requantization is right).
double quantizedSourceRequantized(const std::string &dir);

// The qb::Error message of loadModelBundle(path), or "" when it loads.
std::string importError(const std::string &path);

} // namespace gguf_probe
