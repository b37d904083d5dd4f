// The quantize node: applies one quantization method (with per-pattern overrides for mixed
// precision) to the chosen linear layers of a model and writes a quantized checkpoint
// (quant/quant_checkpoint.h) with the input's tokenizer files beside it.
//
// Calibration (gptq, awq, smoothquant; nodes/calibration_input.h): with a dataset connected to
// "calibration", `calibration.samples` windows of `calibration.seq_len` tokens of its text,
// tokenized with the input model's tokenizer (raw bytes when the folder has no tokenizer.json).
// Without one, calibration.source chooses: "random" token ids (seeded by the experiment seed) or
// "text_file", the file at calibration.path tokenized and windowed the same way. A connected
// dataset is ignored (with a log line) when no chosen method needs calibration.
//
// Overrides are strings "PATTERN: key=value key=value ...", e.g.
// "*.mlp.down_proj: method=int bits=8 group_size=0"; keys are this node's method parameters and
// unspecified keys keep the node's values. The first matching pattern wins.
#include "api/node_context.h"
#include "model/transformer.h"
#include "nodes/calibration_input.h"
#include "nodes/node_inputs.h"
#include "nodes/nodes.h"
#include "quant/method_registry.h"
#include "quant/quant_checkpoint.h"
#include "quant/quantize_model.h"
#include "util/error.h"
#include "util/files.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace qb {

namespace {

Artifact runQuantize(NodeContext &ctx)
{
    const json &p = ctx.params();
    QuantSpec spec;
    spec.method = MethodSpec::fromJson(p, "quantize");
    spec.include = p["include"].get<std::vector<std::string>>();
    if (spec.include.empty())
        spec.include = {"*"};
    spec.exclude = p["exclude"].get<std::vector<std::string>>();
    spec.maxCalibrationRows = p["max_calibration_rows"];
    const auto overrides = p["overrides"].get<std::vector<std::string>>();
    for (size_t i = 0; i < overrides.size(); ++i)
        spec.overrides.push_back(
            parseLayerOverride(overrides[i], p, "overrides[" + std::to_string(i) + "]"));

    const fs::path inDir = modelDir(ctx.input("model"));
    ctx.progress(0, 1, "loading " + inDir.filename().string());
    const ModelBundle bundle = loadModelBundle(ctx.input("model"));
    Transformer *model = bundle.model.get();
    TokenSequences calibration;
    std::string calibrationSource;
    bool needs = spec.method.needsCalibration();
    for (const auto &o : spec.overrides)
        needs |= o.method.needsCalibration();
    if (needs) {
        calibration = calibrationFor(ctx, bundle, &calibrationSource);
        ctx.log("calibration: " + std::to_string(calibration.size()) + " sequences of "
                + std::to_string(calibration.front().size()) + " tokens from "
                + calibrationSource);
    } else if (ctx.hasInput("calibration")) {
        ctx.log("calibration input '" + ctx.input("calibration").nodeId + "' unused: "
                + spec.method.label() + " needs no calibration");
    }

    const QuantizeReport report = quantizeModel(*model, spec, calibration, ctx.hooks());
    for (size_t i = 0; i < report.layers.size(); ++i) {
        const auto &l = report.layers[i];
        ctx.metric("quant.weight_rel_error", static_cast<double>(i), l.weightRelError,
                   {{"layer", l.name}, {"kind", l.kind}, {"weight_bytes", l.weightBytes}},
                   MetricX::Layer, "relative error");
    }
    const int64_t weightBytes = model->weightBytes();
    saveQuantizedModel(*model, ctx.outDir(),
                       {{"label", report.label},
                        {"bits_per_param", report.bitsPerParam()},
                        {"spec", spec.method.toJson()},
                        {"overrides", overrides}});
    copyTokenizerFiles(inDir, ctx.outDir());
    ctx.log("quantized " + std::to_string(report.layers.size()) + " layers as " + report.label
            + ": " + std::to_string(report.bitsPerParam()) + " bits/param");
    Artifact a;
    a.meta = {{"label", report.label},
              {"precision", report.label},
              {"bits_per_param", report.bitsPerParam()},
              {"weight_bytes", weightBytes},
              {"quantized_layers", report.layers.size()},
              {"parameters", model->config().parameterCount()}};
    if (needs)
        a.meta["calibration"] = {{"source", calibrationSource},
                                 {"sequences", calibration.size()},
                                 {"seq_len", calibration.front().size()}};
    ctx.addResult({{"model", ctx.nodeId()},
                   {"label", report.label},
                   {"weight_bytes", weightBytes},
                   {"bits_per_param", report.bitsPerParam()}});
    return a;
}

} // namespace

void registerQuantNodes(NodeRegistry &registry)
{
    NodeSpec n("quantize", "Quantize", "Quantization", "model",
                 "Quantize the linear layers of a model (INT8, LLM.int8(), NF4/FP4, group-wise "
                 "INT-k, GPTQ, AWQ, FP8, SmoothQuant), with per-layer overrides");
    n.inputs = {{"model", "model", false, false, "The model to quantize"},
                {"calibration", "dataset", false, true,
                 "Text to calibrate gptq / awq / smoothquant on (GSM8K or GPQA records, "
                 "tokenized with the model's tokenizer); overrides calibration.source"}};
    const ParamSpec calib = calibrationParamSpec(
        {"random", "text_file"}, 1,
        "Calibration sequences for gptq, awq and smoothquant: from the dataset input when "
        "connected, else from `source`");
    // The method and every method's parameters, from the method table.
    n.params = quantMethodParams("nf4");
    n.params.push_back(ParamSpec::stringList(
        "include",
        "Glob patterns of linear layers to quantize; empty = all (lm_head only when named)"));
    n.params.push_back(ParamSpec::stringList("exclude", "Glob patterns to leave dense"));
    n.params.push_back(ParamSpec::stringList(
        "overrides", "Mixed precision: 'PATTERN: key=value ...', first match wins"));
    n.params.push_back(
        ParamSpec::integer("max_calibration_rows", 2048, "awq: input rows kept per layer")
            .range(16, 1 << 20));
    n.params.push_back(calib);
    // 2: calibration through nodes/calibration_input.h (other random ids; text files tokenized
    // with the model's tokenizer in non-overlapping windows instead of overlapping byte windows).
    n.version = 2;
    n.run = runQuantize;
    registry.add(n);
}

} // namespace qb
