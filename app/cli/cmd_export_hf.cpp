// quantbench-cli export gptq|awq: a quantized checkpoint as a Hugging Face GPTQ or AWQ folder
// (core's quant/hf_quant_export.h through api/hf_export.h); cmdExport (cmd_export.cpp) calls it.
#include "api/hf_export.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "util/error.h"

#include <nlohmann/json.hpp>

#include <iostream>

namespace qbcli {

namespace {

const char *kExportHfHelp
    = "usage: quantbench-cli export gptq|awq --model DIR --out DIR [--dense f16|f32]\n\n"
      "Writes a quantized model as a Hugging Face checkpoint folder in the GPTQ layout\n"
      "(AutoGPTQ / optimum / GPTQModel / transformers: qweight, qzeros, scales, g_idx;\n"
      "checkpoint_format gptq) or the AWQ GEMM layout (AutoAWQ / transformers: qweight,\n"
      "qzeros, scales; version gemm), with config.json carrying quantization_config.\n"
      "The folder also loads back here (model.load, bench model, ...).\n\n"
      "options:\n"
      "  --model DIR      a quantized checkpoint folder (a quantize node's output, or a GPTQ/\n"
      "                   AWQ folder); every linear inside the decoder layers must be group-wise\n"
      "                   INT-k (int, gptq, awq) with one bits / group size / symmetry\n"
      "  --out DIR        the folder to create (must not exist; written as DIR.partial and\n"
      "                   renamed when complete)\n"
      "  --dense f16|f32  dtype of embeddings, norms, dense layers and biases (default f16,\n"
      "                   what GPTQ/AWQ kernels expect)\n\n"
      "GPTQ holds 2, 3, 4 and 8 bits (in/out features multiples of 32); AWQ 4 bits. AWQ input\n"
      "scales are folded into the preceding norm or linear (docs/hf-quant-formats.md).\n"
      "Prints one JSON object: the quantization_config written, the number of quantized\n"
      "layers, the folds, and max_scale_rel_change, the largest relative change of a scale\n"
      "(and so of a nonzero dequantized weight) caused by storing scales as float16.\n"
      "Errors name the layer and its kind; exit code 1.\n";

} // namespace

int exportHfQuant(const std::string &format, const std::vector<std::string> &argv)
{
    Args args(argv, {"model", "out", "dense"}, {"help"});
    if (args.flag("help")) {
        std::cout << kExportHfHelp;
        return 0;
    }
    if (format != "gptq" && format != "awq")
        throw UsageError("unknown format '" + format + "' (gptq or awq)");
    if (!args.positionals().empty())
        throw UsageError("unexpected argument '" + args.positionals()[0] + "'");
    const std::string dense = args.value("dense").value_or("f16");
    if (dense != "f16" && dense != "f32")
        throw UsageError("--dense must be f16 or f32, not '" + dense + "'");
    const std::string model = args.required("model");
    const std::string out = args.required("out");
    const qb::HfExportSummary s = qb::exportHfQuantFolder(format, model, out, dense == "f16");
    nlohmann::ordered_json j;
    j["format"] = s.format;
    j["out"] = out;
    j["quantization_config"] = nlohmann::ordered_json::parse(s.quantizationConfigJson);
    j["quantized_layers"] = s.quantizedLayers;
    j["folds"] = s.folds;
    j["max_scale_rel_change"] = s.maxScaleRelChange;
    j["max_scale_layer"] = s.maxScaleLayer;
    std::cout << j.dump(2) << "\n";
    return 0;
}

} // namespace qbcli
