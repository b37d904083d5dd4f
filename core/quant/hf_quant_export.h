// Writes a quantized Transformer as a Hugging Face GPTQ or AWQ checkpoint folder, the layouts
// transformers / optimum / AutoGPTQ / GPTQModel / AutoAWQ read (docs/hf-quant-formats.md):
// config.json = the model config + "quantization_config"; model.safetensors = per quantized linear
// <name>.qweight I32, .qzeros I32, .scales F16, (GPTQ) .g_idx I32, .bias F16/F32; embeddings, norms
// and dense layers (lm_head) F16 or F32.
// Every linear inside the decoder layers must be an IntGroupLinear sharing one bits / group size /
// symmetry (GPTQ: 2, 3, 4 or 8 bits, in and out multiples of 32; AWQ: 4 bits, out a multiple of 8,
// in a multiple of the group size, no act-order); anything else is refused naming the layer and
// its kind. AWQ input scales (x / s) are folded as AutoAWQ does: q/k/v into input_layernorm,
// gate/up into post_attention_layernorm (the layers reading one norm must share s), o_proj into
// v_proj's output rows, down_proj into up_proj's output rows.
// Scales are stored as float16: the report gives the largest relative change this makes to any
// scale, which is the largest relative change of any nonzero dequantized weight.
// Thread safety: a free function; the model is only read.
#pragma once
#include "model/transformer.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace qb {

struct HfExportOptions
{
    std::string format = "gptq"; // "gptq" or "awq"
    bool denseF16 = true;         // dense tensors and biases as F16 (torch_dtype float16), else F32
    // config.json to start from (a real model's, keeping keys ModelConfig does not know);
    // null: the model's ModelConfig::toJson().
    nlohmann::json baseConfig;
    // Our quantization spec when known ({"damp": ..., "static_groups": ...}): fills damp_percent
    // and static_groups of the GPTQ config (else 0.01 and false, our GPTQ defaults).
    nlohmann::json methodSpec;
    // Copy tokenizer.json, tokenizer_config.json, generation_config.json ... from here.
    std::filesystem::path tokenizerFrom;
};

struct HfExportReport
{
    nlohmann::json quantizationConfig;
    int64_t quantizedLayers = 0;
    std::vector<std::string> folds;    // "model.layers.0.self_attn.o_proj -> ...v_proj"
    double maxScaleRelChange = 0.0;    // max |fp16(s) - s| / |s| over nonzero scales
    std::string maxScaleLayer;         // where it occurs
};

// Writes dir (which must not exist) atomically: everything goes to "<dir>.partial", renamed to dir
// at the end. Throws qb::Error naming the layer (and its kind) that the format cannot hold.
HfExportReport exportHfQuantized(const Transformer &model, const std::filesystem::path &dir,
                                 const HfExportOptions &options);

} // namespace qb
