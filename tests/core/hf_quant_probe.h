// Std-only bridge from tst_hf_quant (Qt Test) to the torch side: the HF GPTQ/AWQ packings, and
// export -> import round trips of a tiny random Llama model (hf_quant_probe.cpp).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace qbprobe {

// quant/hf_quant_pack.h on row-major int32 matrices.
std::vector<int32_t> hfPackGptq(const std::vector<int32_t> &values, int64_t rows, int64_t cols,
                                int bits);
std::vector<int32_t> hfUnpackGptq(const std::vector<int32_t> &packed, int64_t rows, int64_t cols,
                                  int bits);
std::vector<int32_t> hfPackAwq(const std::vector<int32_t> &values, int64_t rows, int64_t cols);
std::vector<int32_t> hfUnpackAwq(const std::vector<int32_t> &packed, int64_t rows, int64_t cols);

struct HfRoundTrip
{
    std::string error;              // non-empty when export or import threw (its message)
    std::string quantizationConfig; // JSON written to config.json
    std::string loadedKind;         // kind() of the loaded q_proj of layer 0
    std::string provenanceFormat;   // loadModelBundle's provenance.format
    int64_t quantizedLayers = 0;
    int64_t folds = 0;
    bool codesEqual = false;        // codes, zero points and g_idx equal, every layer
    bool permKept = false;          // the loaded ops of act-order layers carry a permutation
    double maxScaleRelChange = 0;   // reported by the export
    // Largest |w_loaded - w_mem| / |w_mem| over nonzero weights of unfolded layers (GPTQ).
    double maxWeightRelChange = 0;
    double maxLogitDiff = 0;        // loaded vs in-memory model, same ids
    double maxLogitAbs = 0;
    // Loaded vs the in-memory model with each scale rounded to float16 first: float order only.
    double maxLogitDiffFp16Ref = 0;
    // Largest |naive HF dequantization from the safetensors file - loaded dense weight|.
    double naiveVsLoaded = 0;
    double naiveMaxAbs = 0;
};

// variant: "gptq4-g32", "gptq4-g32-act", "gptq4-pc", "gptq4-pc-act", "gptq3-g32-act",
// "gptq2-g32", "gptq8-pc", "gptq4-g32-sym", "awq4-g32" (AutoAWQ-style shared input scales),
// "int4-g32-awq" (plain RTN written as AWQ). dir must not exist.
HfRoundTrip hfRoundTrip(const std::string &variant, const std::string &dir);

// Export refusals: "nf4" (an NF4 layer), "awq-gqa" (o_proj scale over GQA v_proj),
// "awq-qkv-differ" (q/k/v with different input scales), "gptq-odd-shape" (in not a multiple of
// 32), "awq-3bit", "mixed-bits" (one layer at 8 bits), "gptq-zero0" / "awq-zero0" (an asymmetric group whose zero point is 0).
// Returns the error message ("" if nothing was thrown).
std::string hfExportError(const std::string &variant, const std::string &dir);

// Exports variant to dir/hf, copies it to dir/legacy with quantization_config moved out of
// config.json into the side file older tools wrote (GPTQ: quantize_config.json without
// quant_method; AWQ: quant_config.json spelled w_bit / q_group_size), loads both and returns the
// largest logit difference; *error receives a load error.
double hfLegacyConfigLogitDiff(const std::string &variant, const std::string &dir,
                               std::string *error);

// An HF layer as AutoGPTQ's sym=True writes it (zero 2^(bits-1), codes over the full range
// 0 .. 2^bits - 1, so code 0 = -2^(bits-1) steps occurs) turned into an IntGroupLinear: the
// largest |forward - x W^T| over 1 row (the fused path) and 40 rows (the reference), W from the
// HF formula here; *symmetric says whether the op took the symmetric storage.
double hfSymmetricFullRange(int bits, bool *symmetric);

// Exports "gptq4-g32" to dir/hf, copies it with checkpoint_format "gptq_v2" (qzeros then read as
// the zero itself, not zero - 1) and returns, for every quantized layer, the largest
// |(W_v2 - W_v1) - scale of the weight's group|: 0 when v1 is read as zero - 1 and v2 as zero.
double hfGptqV2Shift(const std::string &dir);

// Exports "gptq4-g32" to dir, then rewrites config.json's bits to 8 and loads: the message.
std::string hfImportWrongBits(const std::string &dir);

} // namespace qbprobe
