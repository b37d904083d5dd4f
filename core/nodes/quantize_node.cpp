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
#include "quant/quant_checkpoint.h"
#include "quant/quantize_model.h"
#include "util/error.h"
#include "util/files.h"

#include <sstream>

namespace fs = std::filesystem;
using nlohmann::json;

namespace qb {

namespace {

ParamSpec param(const std::string &name, ParamKind kind, json def, const std::string &description,
                std::optional<double> min = {}, std::optional<double> max = {})
{
    ParamSpec p;
    p.name = name;
    p.kind = kind;
    p.defaultValue = std::move(def);
    p.description = description;
    p.min = min;
    p.max = max;
    return p;
}

// "PATTERN: key=value ..." -> {pattern, {key: value}} with numbers and booleans typed.
LayerOverride parseOverride(const std::string &text, const MethodSpec &base, size_t index)
{
    const std::string where = "overrides[" + std::to_string(index) + "]";
    const auto colon = text.find(':');
    if (colon == std::string::npos || colon == 0)
        throw Error(where + ": expected 'PATTERN: key=value ...', got '" + text + "'");
    LayerOverride o;
    o.pattern = text.substr(0, colon);
    while (!o.pattern.empty() && o.pattern.back() == ' ')
        o.pattern.pop_back();
    json j = json::object();
    std::istringstream in(text.substr(colon + 1));
    std::string item;
    while (in >> item) {
        const auto eq = item.find('=');
        if (eq == std::string::npos || eq == 0)
            throw Error(where + ": expected key=value, got '" + item + "'");
        const std::string key = item.substr(0, eq), value = item.substr(eq + 1);
        if (value == "true" || value == "false") {
            j[key] = value == "true";
        } else {
            try {
                size_t used = 0;
                const double d = std::stod(value, &used);
                if (used != value.size())
                    throw std::invalid_argument(value);
                if (d == static_cast<int64_t>(d) && value.find('.') == std::string::npos)
                    j[key] = static_cast<int64_t>(d);
                else
                    j[key] = d;
            } catch (const std::logic_error &) {
                j[key] = value;
            }
        }
    }
    static const std::vector<std::string> known
        = {"method",    "bits",      "group_size",    "block_size", "double_quant", "symmetric",
           "threshold", "act_order", "static_groups", "damp",       "alpha",        "clip_search"};
    for (auto it = j.begin(); it != j.end(); ++it)
        if (std::find(known.begin(), known.end(), it.key()) == known.end())
            throw Error(where + ": unknown key '" + it.key() + "'");
    o.method = base.withJson(j, where);
    return o;
}

Artifact runQuantize(NodeContext &ctx)
{
    const json &p = ctx.params();
    QuantSpec spec;
    spec.method = MethodSpec().withJson(p, "quantize");
    spec.include = p["include"].get<std::vector<std::string>>();
    if (spec.include.empty())
        spec.include = {"*"};
    spec.exclude = p["exclude"].get<std::vector<std::string>>();
    spec.maxCalibrationRows = p["max_calibration_rows"];
    const auto overrides = p["overrides"].get<std::vector<std::string>>();
    for (size_t i = 0; i < overrides.size(); ++i)
        spec.overrides.push_back(parseOverride(overrides[i], spec.method, i));

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

    const QuantizeReport report = quantizeModel(
        *model, spec, calibration,
        [&ctx](size_t done, size_t total, const std::string &layer) {
            ctx.progress(static_cast<double>(done), static_cast<double>(total),
                         layer.empty() ? "quantized" : "quantizing " + layer);
        },
        [&ctx] { ctx.checkCancelled(); });
    for (size_t i = 0; i < report.layers.size(); ++i) {
        const auto &l = report.layers[i];
        ctx.metric("quant.weight_rel_error", static_cast<double>(i), l.weightRelError,
                   {{"layer", l.name}, {"kind", l.kind}, {"weight_bytes", l.weightBytes}});
    }
    const int64_t weightBytes = model->weightBytes();
    saveQuantizedModel(*model, ctx.outDir(),
                       {{"label", report.label},
                        {"bits_per_param", report.bitsPerParam()},
                        {"spec", spec.method.toJson()},
                        {"overrides", overrides}});
    for (const char *file : {"tokenizer.json", "tokenizer_config.json", "generation_config.json",
                             "special_tokens_map.json"})
        if (fs::exists(inDir / file))
            fs::copy_file(inDir / file, ctx.outDir() / file, fs::copy_options::overwrite_existing);
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
    NodeSpec n;
    n.type = "quantize";
    n.title = "Quantize";
    n.category = "Quantization";
    n.description = "Quantize the linear layers of a model (INT8, LLM.int8(), NF4/FP4, group-wise "
                    "INT-k, GPTQ, AWQ, FP8, SmoothQuant), with per-layer overrides";
    n.inputs = {{"model", "model", false, false, "The model to quantize"},
                {"calibration", "dataset", false, true,
                 "Text to calibrate gptq / awq / smoothquant on (GSM8K or GPQA records, "
                 "tokenized with the model's tokenizer); overrides calibration.source"}};
    n.outputType = "model";
    ParamSpec method = param("method", ParamKind::Enum, "nf4", "Quantization method");
    method.choices = {"int8", "llm_int8", "nf4", "fp4", "int", "gptq", "awq", "fp8", "smoothquant"};
    ParamSpec calib = param("calibration", ParamKind::Object, nullptr,
                            "Calibration sequences for gptq, awq and smoothquant: from the "
                            "dataset input when connected, else from `source`");
    ParamSpec source = param("source", ParamKind::Enum, "random",
                             "Without a dataset: random token ids, or a text file tokenized "
                             "with the model's tokenizer");
    source.choices = {"random", "text_file"};
    calib.fields = {source, param("samples", ParamKind::Int, 16, "Number of sequences", 1, 1 << 16),
                    param("seq_len", ParamKind::Int, 64, "Tokens per sequence", 1, 1 << 16),
                    param("path", ParamKind::Path, "", "Text file for source text_file")};
    n.params = {
        method,
        param("bits", ParamKind::Int, 4, "int / gptq / awq: bits per weight (2, 3, 4 or 8)", 2, 8),
        param("group_size", ParamKind::Int, 128,
              "int / gptq / awq: weights per scale along the input (0 = per channel)", 0, 1 << 20),
        param("block_size", ParamKind::Int, 64, "nf4 / fp4: weights per absmax block", 32, 4096),
        param("double_quant", ParamKind::Bool, false, "nf4 / fp4: quantize the absmax values"),
        param("symmetric", ParamKind::Bool, false,
              "int / gptq / awq: no zero point (otherwise asymmetric with one per group)"),
        param("threshold", ParamKind::Float, 6.0,
              "llm_int8: inputs with |x| >= threshold go through float32", 0.0, 1e6),
        param("act_order", ParamKind::Bool, false,
              "gptq: quantize columns in descending Hessian-diagonal order"),
        param("static_groups", ParamKind::Bool, false,
              "gptq: group scales from the original weights"),
        param("damp", ParamKind::Float, 0.01, "gptq: dampening as a fraction of mean diag(H)", 0.0,
              10.0),
        param("alpha", ParamKind::Float, 0.5, "smoothquant: migration strength", 0.0, 1.0),
        param("clip_search", ParamKind::Bool, true, "awq: search a clipping range per group"),
        param("include", ParamKind::StringList, json::array(),
              "Glob patterns of linear layers to quantize; empty = all (lm_head only when named)"),
        param("exclude", ParamKind::StringList, json::array(), "Glob patterns to leave dense"),
        param("overrides", ParamKind::StringList, json::array(),
              "Mixed precision: 'PATTERN: key=value ...', first match wins"),
        param("max_calibration_rows", ParamKind::Int, 2048, "awq: input rows kept per layer", 16,
              1 << 20),
        calib,
    };
    // 2: calibration through nodes/calibration_input.h (other random ids; text files tokenized
    // with the model's tokenizer in non-overlapping windows instead of overlapping byte windows).
    n.version = 2;
    n.run = runQuantize;
    registry.add(n);
}

} // namespace qb
