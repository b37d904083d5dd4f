// Loads Hugging Face GPTQ and AWQ checkpoint folders (config.json with quantization_config
// .quant_method "gptq" or "awq"; single or sharded safetensors) into a Transformer whose quantized
// linears are IntGroupLinear ops (docs/hf-quant-formats.md): qweight/qzeros unpacked, GPTQ's v1
// zero convention (qzeros = zero - 1) or gptq_v2 (the zero itself), g_idx turned into the stored
// column permutation, float16 scales widened to float32. A linear without <name>.qweight loads as
// a dense <name>.weight (lm_head, modules_to_not_convert).
// Supported: GPTQ bits 2/3/4/8 with checkpoint_format gptq or gptq_v2; AWQ 4-bit "gemm".
// Folders whose config.json lacks quantization_config are read through the side files older tools
// wrote: AutoGPTQ's quantize_config.json, AutoAWQ's quant_config.json (w_bit, q_group_size).
// Thread safety: free functions.
#pragma once
#include "model/transformer.h"

#include <filesystem>
#include <memory>
#include <string>

namespace qb {

// "gptq" or "awq" when dir holds such a checkpoint (config as above), else "".
std::string hfQuantMethod(const std::filesystem::path &dir);

// Throws qb::Error naming the folder, the tensor and the shape it expected.
std::unique_ptr<Transformer> loadHfQuantized(const std::filesystem::path &dir);

} // namespace qb
