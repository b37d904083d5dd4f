// Std-only bridge from tst_fused_generation (Qt Test) to the torch side: the shipped built-in
// reasoner quantized with one method, generated greedily with the fused kernels and with
// dequantize + matmul (the reference), and its logits on a short input both ways.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace fusedprobe {

struct Comparison
{
    std::string kernelPath;                   // the fused path used (QB_KERNEL_PATH or best)
    std::vector<std::vector<int64_t>> fused;  // generated ids per prompt, fused kernels on
    std::vector<std::vector<int64_t>> reference; // the same with them off
    double maxLogitDiff = 0; // max |fused - reference| over [prompts, 8 tokens, vocab] logits
    double maxLogitAbs = 0;  // max |reference logit|, for scale
    // max |fused - reference| of the logits of one cached decoding step after each prompt
    // (fused attention, kernels/attention.h, against torch's matmuls)
    double maxDecodeLogitDiff = 0;
    int64_t fusedCalls = 0;  // linear forwards that took the fused kernel (must be > 0)
};

// methodJson: quantize node parameters, e.g. {"method": "int", "bits": 4, "group_size": 128};
// empty: the float32 model as shipped (only the attention of decoding steps is fused).
// batch: prompts generated together (decode steps then have `batch` rows per linear).
// int8Activations: the fused side rounds activations to int8 (kernels/fused_linear_q8.h).
Comparison compare(const std::string &methodJson, int prompts, int batch, int maxNewTokens,
                   bool int8Activations = false);

// The float32 built-in model with a quantized KV cache ("int8", "int4" or "fp8"), greedy: the fused
// attention reads the codes and scales as stored (KVCache::writeStored), the reference (fused
// kernels off) decodes the cache to float32 and runs torch's attention. Generations both ways,
// and the largest logit difference of one cached decoding step after each prompt.
struct CacheComparison
{
    std::vector<std::vector<int64_t>> fused, reference;
    double maxDecodeLogitDiff = 0, maxLogitAbs = 0;
};
CacheComparison compareQuantizedCache(const std::string &format, int prompts, int batch,
                                      int maxNewTokens);

// One INT4 g128 linear of the built-in model with int8 activations on: the largest difference
// between its output for 40 rows at once and row by row (must be 0: each row is rounded and
// summed alone, and 40 rows > fusedMaxRows still take the int8 path), and between it and the
// float path (must be > 0).
struct RowsCheck
{
    double batchedVsSingle = -1, int8VsFloat = -1;
};
RowsCheck int8ActivationRows();

// The built-in model's MLP down projection (dense float32) with bf16 compute on, where the CPU
// runs it (active false elsewhere): the largest difference between 40 rows at once and row by
// row (must be 0), and the largest |bf16 - float32| against the bound 2^-7 · Σ|x||w| of each
// output (ratio <= 1), and whether the difference is > 0 at all (it is a different arithmetic).
struct Bf16Check
{
    bool active = false;
    double batchedVsSingle = -1, worstRatioToBound = -1, maxDiff = -1;
};
Bf16Check bf16ComputeRows();

// packedWeightStorage (quant/fused_kernels.h) on a 4096 x 1280 uint8 tensor (5 MiB) and a 1 MiB
// one, with huge-page placement on and off: whether each result holds the same bytes, whether
// its data starts on a 2 MiB boundary, and whether it is the input's own storage.
struct Placement
{
    bool equal = false;
    bool aligned = false;
    bool sameStorage = false;
};
struct PlacementCheck
{
    Placement large, small, largeOff;
    std::string thpMode; // transparentHugePageMode()
};
PlacementCheck weightPlacement();

} // namespace fusedprobe
