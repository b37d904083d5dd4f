// Analysis nodes: analyze.layer_error (where a quantized model's error comes from, layer by layer
// and block by block, against its reference) and analyze.sensitivity (which layers a low-bit
// method hurts most, and a greedy 8-bit upgrade under a bits/param budget). The torch work is in
// core/analysis/; these functions read the inputs, report events and result rows, and write
// the tables into the node folder.
//
// Calibration (nodes/calibration_input.h): with a dataset connected, its text tokenized with the
// reference model's tokenizer (raw bytes without one) and cut into `samples` windows of `seq_len`
// tokens. Without one, calibration.source chooses: "generated" (default) samples sequences from
// the reference model at temperature 1, starting from BOS (so activations and perplexities are
// those of in-distribution text; the reference perplexity is then that of its own samples),
// "random" draws token ids uniformly (seeded by the experiment seed).
//
// Events (Metric): "layer_error" per linear layer, data {layer, module, name, kind, rel_mse,
// sqnr_db, cosine, max_abs, kl, weight_rel_mse, act_absmax, act_outlier_fraction,
// act_outlier_channels, weight_kurtosis, tokens} as ui/layer_error_chart.cpp reads it;
// "hidden_rel_error" / "hidden_cosine" per block (step = block); "kl_mean" (data: the model row);
// "weight_histogram" (data: analysis/weight_histogram.h's JSON); "sensitivity.kl" per layer,
// "sensitivity.curve" (step = bits/param, value = KL), "sensitivity.allocation".
// Non-finite values (SQNR of an exact layer) are written as null.
#include "analysis/calibration.h"
#include "analysis/layer_error.h"
#include "analysis/sensitivity.h"
#include "api/node_context.h"
#include "nodes/calibration_input.h"
#include "nodes/node_inputs.h"
#include "nodes/nodes.h"
#include "quant/method_registry.h"
#include "util/error.h"
#include "util/files.h"

#include <cmath>

namespace fs = std::filesystem;
using nlohmann::json;

namespace qb {

namespace {

json num(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

ParamSpec calibrationParam()
{
    return calibrationParamSpec({"generated", "random"}, 2,
                                "Calibration sequences (from the dataset input when connected)");
}

// The quantize node's method parameters as one object.
ParamSpec methodParam(const std::string &name, const std::string &method,
                      const std::string &description)
{
    return ParamSpec::object(name, quantMethodParams(method), description);
}

json linearJson(const LinearError &e)
{
    return {{"layer", e.layer},
            {"module", e.module},
            {"name", e.name},
            {"kind", e.kind},
            {"tokens", e.tokens},
            {"weight_rel_mse", num(e.weightRelMse)},
            {"rel_mse", num(e.outputRelMse)},
            {"sqnr_db", num(e.sqnrDb)},
            {"cosine", num(e.cosine)},
            {"max_abs", num(e.maxAbsError)},
            {"kl", num(e.kl)},
            {"act_absmax", num(e.actAbsmax)},
            {"act_outlier_fraction", num(e.actOutlierFraction)},
            {"act_outlier_channels", e.actOutlierChannels},
            {"weight_kurtosis", num(e.weightKurtosis)}};
}

// A results.json row: the row plus the base keys and the row's kind under "analysis".
json resultRow(json row, const json &base, const std::string &analysis)
{
    for (const auto &[k, v] : base.items())
        row[k] = v;
    row["analysis"] = analysis;
    return row;
}

Artifact runLayerError(NodeContext &ctx)
{
    const json &p = ctx.params();
    const Artifact &refArt = ctx.input("reference"), &quantArt = ctx.input("quantized");
    ctx.progress(0, 1, "loading models");
    const ModelBundle refBundle = loadModelBundle(refArt);
    const ModelBundle quantBundle = loadModelBundle(quantArt);
    Transformer &reference = *refBundle.model;
    std::string source;
    const auto seqs = calibrationFor(ctx, refBundle, &source);
    LayerErrorOptions o;
    o.outlierThreshold = p["outlier_threshold"];
    o.layerKl = p["layer_kl"];
    o.histogramLayer = p["histogram_layer"];
    o.histogramBins = p["histogram_bins"];
    const LayerErrorReport r = analyzeLayerError(
        reference, *quantBundle.model, sequenceBatches(seqs, reference.config().vocabSize), o,
        ctx.hooks());

    const std::string label = quantArt.meta.value("label", quantArt.nodeId);
    const json base{{"reference", refArt.nodeId}, {"quantized", quantArt.nodeId}, {"label", label}};
    json doc{{"calibration", source}, {"linears", json::array()}, {"blocks", json::array()}};
    for (size_t i = 0; i < r.linears.size(); ++i) {
        const json row = linearJson(r.linears[i]);
        json event = row;
        event["label"] = label; // so a live chart can name the model before the results exist
        ctx.metric("layer_error", double(i), r.linears[i].outputRelMse, event, MetricX::Layer,
                   "relative MSE");
        ctx.addResult(resultRow(row, base, "layer_error.layer"));
        doc["linears"].push_back(row);
    }
    for (const auto &b : r.blocks) {
        const json row{
            {"layer", b.layer}, {"rel_error", num(b.relError)}, {"cosine", num(b.cosine)}};
        ctx.metric("hidden_rel_error", double(b.layer), b.relError, row, MetricX::Layer,
                   "relative error");
        ctx.metric("hidden_cosine", double(b.layer), b.cosine, row, MetricX::Layer, "cosine");
        ctx.addResult(resultRow(row, base, "layer_error.block"));
        doc["blocks"].push_back(row);
    }
    const ModelError &m = r.model;
    const json model{{"kl_mean", num(m.klMean)},           {"kl_max", num(m.klMax)},
                     {"positions", m.positions},           {"ppl_reference", num(m.pplReference)},
                     {"ppl_quantized", num(m.pplQuantized)}, {"predicted", m.predicted},
                     {"calibration", source}};
    ctx.metric("kl_mean", 0, m.klMean, model, MetricX::None, "nats");
    ctx.addResult(resultRow(model, base, "layer_error.model"));
    doc["model"] = model;
    const json hist = r.histogram.toJson();
    ctx.metric("weight_histogram", 0, double(r.histogram.levels.size()), hist, MetricX::None,
               "levels");
    writeFileAtomic(ctx.outDir() / "weight_histogram.json", hist.dump(1) + "\n");
    writeFileAtomic(ctx.outDir() / "layer_error.json", doc.dump(1) + "\n");
    ctx.log(label + ": mean KL " + std::to_string(m.klMean) + " nats, perplexity "
            + std::to_string(m.pplReference) + " -> " + std::to_string(m.pplQuantized) + " on "
            + source);
    Artifact a;
    a.meta = {{"label", label}, {"kl_mean", num(m.klMean)}, {"layers", r.linears.size()},
              {"files", json::array({"layer_error.json", "weight_histogram.json"})}};
    return a;
}

Artifact runSensitivity(NodeContext &ctx)
{
    const json &p = ctx.params();
    const Artifact &art = ctx.input("model");
    ctx.progress(0, 1, "loading model");
    const ModelBundle bundle = loadModelBundle(art);
    Transformer &model = *bundle.model;
    std::string source;
    const auto seqs = calibrationFor(ctx, bundle, &source);
    SensitivityOptions o;
    o.low = MethodSpec::fromJson(p["low"], "low");
    o.high = MethodSpec::fromJson(p["high"], "high");
    o.budgetBitsPerParam = p["budget_bits"];
    o.maxCalibrationRows = p["max_calibration_rows"];
    const SensitivityReport r = analyzeSensitivity(model, seqs, o, ctx.hooks());

    const json base{{"model", art.nodeId}, {"low", o.low.label()}, {"high", o.high.label()}};
    json doc{{"calibration", source}, {"layers", json::array()}, {"curve", json::array()}};
    for (size_t i = 0; i < r.layers.size(); ++i) {
        const LayerSensitivity &s = r.layers[i];
        const size_t rank = std::find(r.ranking.begin(), r.ranking.end(), i) - r.ranking.begin();
        const json row{{"name", s.cost.name},     {"layer", s.layer},
                       {"module", s.module},      {"parameters", s.cost.parameters},
                       {"low_kind", s.lowKind},   {"high_kind", s.highKind},
                       {"low_bytes", s.cost.lowBytes}, {"high_bytes", s.cost.highBytes},
                       {"kl_low", num(s.klLow)},  {"kl_high", num(s.klHigh)},
                       {"rank", rank},            {"upgraded", bool(r.allocation.upgraded[i])}};
        ctx.metric("sensitivity.kl", double(i), s.klLow, row, MetricX::Layer, "nats");
        ctx.addResult(resultRow(row, base, "sensitivity.layer"));
        doc["layers"].push_back(row);
    }
    for (const auto &c : r.curve) {
        const json row{{"upgraded", c.upgraded}, {"layer", c.layer},
                       {"bits_per_param", c.bitsPerParam}, {"kl", num(c.kl)}};
        ctx.metric("sensitivity.curve", c.bitsPerParam, c.kl, row, MetricX::Bits, "nats");
        ctx.addResult(resultRow(row, base, "sensitivity.curve"));
        doc["curve"].push_back(row);
    }
    json quantizeParams = o.low.toJson();
    quantizeParams["overrides"] = r.overrides;
    const json alloc{{"budget_bits", o.budgetBitsPerParam},
                     {"feasible", r.allocation.feasible},
                     {"bits_per_param", r.allocation.bitsPerParam},
                     {"kl", num(r.allocationKl)},
                     {"upgraded", r.overrides.size()},
                     {"overrides", r.overrides},
                     {"quantize_params", quantizeParams}};
    ctx.metric("sensitivity.allocation", r.allocation.bitsPerParam, r.allocationKl, alloc,
               MetricX::Bits, "nats");
    ctx.addResult(resultRow(alloc, base, "sensitivity.allocation"));
    doc["allocation"] = alloc;
    writeFileAtomic(ctx.outDir() / "sensitivity.json", doc.dump(1) + "\n");
    writeFileAtomic(ctx.outDir() / "allocation.json", alloc.dump(1) + "\n");
    if (!r.allocation.feasible)
        ctx.log("budget " + std::to_string(o.budgetBitsPerParam) + " bits/param is below the "
                "all-" + o.low.label() + " model (" + std::to_string(r.curve.front().bitsPerParam)
                + "); nothing upgraded");
    ctx.log("allocation: " + std::to_string(r.overrides.size()) + " of "
            + std::to_string(r.layers.size()) + " layers at " + o.high.label() + ", "
            + std::to_string(r.allocation.bitsPerParam) + " bits/param, KL "
            + std::to_string(r.allocationKl));
    Artifact a;
    a.meta = {{"label", o.low.label() + "+" + o.high.label()},
              {"bits_per_param", r.allocation.bitsPerParam},
              {"kl", num(r.allocationKl)},
              {"overrides", r.overrides},
              {"quantize_params", quantizeParams},
              {"files", json::array({"sensitivity.json", "allocation.json"})}};
    return a;
}

} // namespace

void registerAnalyzeNodes(NodeRegistry &registry)
{
    NodeSpec e("analyze.layer_error", "Layer error", "Analysis", "analysis",
                 "Per-layer error of a quantized model on the reference's activations (relative "
                 "MSE, SQNR, cosine, max error, KL alone, outliers, kurtosis), hidden-state "
                 "error per block, mean KL and perplexities, and a weight histogram with "
                 "quantization levels. Calibration: the dataset input, else text generated by "
                 "the reference model (or random tokens).");
    e.inputs = {{"reference", "model", false, false, "The full-precision model"},
                {"quantized", "model", false, false, "Its quantized version"},
                {"calibration", "dataset", false, true, "Text to run both models on"}};
    e.params = {calibrationParam(),
                ParamSpec::real("outlier_threshold", 6.0,
                                "Activations with |x| >= this count as outliers")
                    .range(0.0, 1e6),
                ParamSpec::boolean("layer_kl", true,
                                   "Also the KL with each layer quantized alone (one model pass "
                                   "per layer)"),
                ParamSpec::string("histogram_layer", "",
                                  "Linear layer (HF name) of the weight histogram; empty = the "
                                  "first"),
                ParamSpec::integer("histogram_bins", 64, "Histogram bins").range(1, 4096)};
    e.run = runLayerError;
    registry.add(e);

    NodeSpec s("analyze.sensitivity", "Sensitivity", "Analysis", "analysis",
                 "Quantizes one layer at a time, ranks layers by KL, and upgrades the most "
                 "sensitive ones to the high-bit method while the bits/param stay within the "
                 "budget; outputs the KL-vs-bits curve and quantize-node overrides. "
                 "Calibration: the dataset input, else text generated by the model.");
    s.inputs = {{"model", "model", false, false, "The full-precision model"},
                {"calibration", "dataset", false, true, "Text to run the model on"}};
    s.params = {calibrationParam(),
                methodParam("low", "nf4", "The low-bit setting every layer starts at"),
                methodParam("high", "int8", "The setting sensitive layers are upgraded to"),
                ParamSpec::real("budget_bits", 5.0, "Largest bits/param over the quantized layers")
                    .range(0.0, 64.0),
                ParamSpec::integer("max_calibration_rows", 2048, "awq: input rows kept per layer")
                    .range(16, 1 << 20)};
    s.run = runSensitivity;
    registry.add(s);
}

} // namespace qb
