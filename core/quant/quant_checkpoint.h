// Quantized checkpoints: a Hugging Face-style folder whose config.json carries a
// "quantization_config" object and whose model.safetensors holds, for each quantized linear
// <name>, its packed tensors as "<name>.<suffix>" in their stored dtypes (qweight U8/I8, scales
// F32, qzeros U8, absmax F32, perm I64, ...; see each op's header), dense layers as "<name>.weight"
// F32, and embeddings/norms F32. The same quantization_config JSON is also stored in the
// safetensors metadata under "quantization_config".
// quantization_config = {"quant_method": "quantbench", "format_version": 1, "label": ...,
//                        "bits_per_param": ..., "layers": {name: op.config()}}
// A quantized model saved and loaded gives bit-identical forward outputs.
// Thread safety: free functions; the model must not be used concurrently while saving.
#pragma once
#include "model/transformer.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <memory>

namespace qb {

// extra: merged into quantization_config (e.g. label, bits_per_param, the spec).
void saveQuantizedModel(const Transformer &model, const std::filesystem::path &dir,
                        const nlohmann::json &extra = nlohmann::json::object());

// True when dir/config.json has a quantization_config written by saveQuantizedModel.
bool isQuantizedCheckpoint(const std::filesystem::path &dir);

// Loads a folder written by saveQuantizedModel. Throws qb::Error naming the folder and tensor.
std::unique_ptr<Transformer> loadQuantizedModel(const std::filesystem::path &dir);

} // namespace qb
