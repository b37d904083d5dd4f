// Std-only entry to the Hugging Face GPTQ / AWQ export (quant/hf_quant_export.h) for the CLI and
// the GUI: a quantized checkpoint folder in, an HF folder out.
// Thread safety: a free function; blocks until the folder is written.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace qb {

struct HfExportSummary
{
    std::string format;                  // "gptq" or "awq"
    std::string quantizationConfigJson;  // what config.json's quantization_config holds
    int64_t quantizedLayers = 0;
    std::vector<std::string> folds;      // AWQ input scales folded: "layer -> where"
    double maxScaleRelChange = 0.0;      // largest relative change of a scale by float16 storage
    std::string maxScaleLayer;
};

// modelDir: any folder loadModelBundle reads (a quantized checkpoint made by the quantize node,
// or a GPTQ/AWQ folder). Its config.json (less quantization_config) is kept; tokenizer files are
// copied; damp/static_groups/act_order come from its quantization spec when it has one.
// denseF16: embeddings, norms, dense layers and biases as F16 (else F32).
// Throws qb::Error for what the format cannot hold (docs/hf-quant-formats.md).
HfExportSummary exportHfQuantFolder(const std::string &format,
                                    const std::filesystem::path &modelDir,
                                    const std::filesystem::path &outDir, bool denseF16 = true);

} // namespace qb
