#include "quant/hf_quant_export.h"

#include "api/hf_export.h"

#include "io/safetensors.h"
#include "model/model_bundle.h"
#include "quant/hf_quant_pack.h"
#include "util/error.h"
#include "util/files.h"

#include <cmath>

namespace fs = std::filesystem;
using nlohmann::json;

namespace qb {

namespace {

std::string settings(const hfq::HfLinear &l)
{
    return std::to_string(l.bits) + " bits, group_size " + std::to_string(l.groupSize)
        + (l.symmetric ? ", symmetric" : ", asymmetric");
}

// Checks what one layout can hold of one layer.
void checkLayout(const std::string &format, const std::string &name, const hfq::HfLinear &l,
                 const IntGroupLinear &op)
{
    const int64_t out = l.codes.size(0), in = l.codes.size(1);
    const std::string what = name + " (" + op.kind() + ")";
    if (format == "gptq") {
        if (l.bits != 2 && l.bits != 3 && l.bits != 4 && l.bits != 8)
            throw Error(what + ": the GPTQ layout packs 2, 3, 4 or 8 bits");
        if (in % 32 != 0 || out % 32 != 0)
            throw Error(what + ": in_features " + std::to_string(in) + " and out_features "
                        + std::to_string(out) + " must be multiples of 32 for the GPTQ layout "
                          "(qweight packs 32 input rows per bits words, qzeros 32 output columns)");
        if (!l.symmetric) {
            // v1 stores zero - 1: a zero point of 0 would be written as -1 and read back as
            // 2^bits by every v1 reader.
            const auto where0 = l.zeros.eq(0).nonzero();
            if (where0.size(0) > 0)
                throw Error(what + ": zero point 0 at row "
                            + std::to_string(where0[0][0].item<int64_t>()) + ", group "
                            + std::to_string(where0[0][1].item<int64_t>())
                            + " cannot be stored in the GPTQ v1 layout (qzeros holds zero - 1)");
        }
        return;
    }
    if (l.bits != 4)
        throw Error(what + ": the AWQ GEMM layout holds 4-bit weights only");
    if (out % 8 != 0)
        throw Error(what + ": out_features " + std::to_string(out)
                    + " must be a multiple of 8 for the AWQ layout (8 columns per int32)");
    if (l.groupSize > 0 && in % l.groupSize != 0)
        throw Error(what + ": in_features " + std::to_string(in)
                    + " must be a multiple of the group size " + std::to_string(l.groupSize)
                    + " for the AWQ layout");
    if (op.permutation().defined())
        throw Error(what + ": act-order (a column permutation) has no place in the AWQ layout");
}

// AWQ smoothing of layers reading one norm: one shared s, divided out of the norm weight.
void foldIntoNorm(std::map<std::string, hfq::HfLinear> &layers,
                  std::map<std::string, at::Tensor> &dense, const std::string &norm,
                  const std::vector<std::string> &names, std::vector<std::string> &folds)
{
    const at::Tensor *s = nullptr;
    for (const auto &n : names)
        if (layers.at(n).inputScale.defined())
            s = &layers.at(n).inputScale;
    if (!s)
        return;
    const at::Tensor shared = *s;
    std::string list;
    for (const auto &n : names)
        list += (list.empty() ? "" : ", ") + n;
    for (const auto &n : names) {
        const auto &mine = layers.at(n).inputScale;
        if (!mine.defined() || !at::equal(mine, shared))
            throw Error(n + ": its AWQ input scale differs from that of the other layers reading "
                        + norm + " (" + list
                        + "); the AWQ layout folds one scale into the norm, as AutoAWQ searches "
                          "one per group of layers sharing an input");
    }
    dense.at(norm) = dense.at(norm) / shared;
    for (const auto &n : names)
        layers.at(n).inputScale = at::Tensor();
    folds.push_back(list + " -> " + norm);
}

// AWQ smoothing of a layer whose input is (a function of) prev's output channels, one to one:
// prev's output rows (scales and bias) are divided by s.
void foldIntoLinear(std::map<std::string, hfq::HfLinear> &layers, const std::string &prev,
                    const std::string &next, std::vector<std::string> &folds)
{
    auto &n = layers.at(next);
    if (!n.inputScale.defined())
        return;
    auto &p = layers.at(prev);
    if (p.codes.size(0) != n.codes.size(1))
        throw Error(next + ": its AWQ input scale cannot be folded into " + prev + " ("
                    + std::to_string(p.codes.size(0)) + " outputs for "
                    + std::to_string(n.codes.size(1))
                    + " inputs: grouped-query attention repeats them), as AutoAWQ also skips");
    p.scales = p.scales / n.inputScale.unsqueeze(1);
    if (p.bias.defined())
        p.bias = p.bias / n.inputScale;
    n.inputScale = at::Tensor();
    folds.push_back(next + " -> " + prev);
}

} // namespace

HfExportReport exportHfQuantized(const Transformer &model, const fs::path &dir,
                                 const HfExportOptions &options)
{
    const std::string &format = options.format;
    if (format != "gptq" && format != "awq")
        throw Error("export: unknown format '" + format + "' (gptq or awq)");
    if (fs::exists(dir))
        throw Error(dir.string() + ": already exists (the export writes a new folder)");
    const ModelConfig &cfg = model.config();
    HfExportReport report;
    at::NoGradGuard noGrad;

    std::map<std::string, hfq::HfLinear> layers;
    std::map<std::string, at::Tensor> dense; // embeddings, norms, lm_head: by tensor name
    for (const auto &[name, t] : model.tensors())
        dense[name] = t.detach().to(at::kFloat).clone();
    const hfq::HfLinear *first = nullptr;
    std::string firstName;
    bool anyPerm = false;
    for (const auto &name : model.linearNames()) {
        const auto op = model.linearPtr(name);
        if (name == "lm_head") {
            if (cfg.tieWordEmbeddings)
                continue;
            if (std::dynamic_pointer_cast<QuantizedLinear>(op))
                throw Error(name + " (" + op->kind() + "): lm_head must stay dense in the "
                            + format + " layout written here");
            dense["lm_head.weight"] = op->denseWeight().to(at::kFloat);
            if (op->bias().defined())
                dense["lm_head.bias"] = op->bias().to(at::kFloat);
            continue;
        }
        const auto q = std::dynamic_pointer_cast<IntGroupLinear>(op);
        if (!q)
            throw Error(name + " (" + op->kind() + "): the " + format
                        + " layout holds group-wise INT-k layers (int, gptq, awq) only; every "
                          "linear inside the decoder layers must be one");
        auto l = hfq::fromIntGroup(*q, name);
        checkLayout(format, name, l, *q);
        if (first && (l.bits != first->bits || l.groupSize != first->groupSize
                      || l.symmetric != first->symmetric))
            throw Error(name + " (" + q->kind() + "): " + settings(l) + ", but " + firstName
                        + " has " + settings(*first)
                        + "; the HF quantization_config holds one setting for all layers");
        anyPerm |= q->permutation().defined();
        layers[name] = std::move(l);
        if (!first) {
            first = &layers[name];
            firstName = name;
        }
    }
    if (!first)
        throw Error("export: the model has no quantized linear layers");

    for (int64_t i = 0; i < cfg.numLayers; ++i) {
        auto n = [&](const char *s) { return layerName(i, s); };
        foldIntoNorm(layers, dense, n("input_layernorm.weight"),
                     {n("self_attn.q_proj"), n("self_attn.k_proj"), n("self_attn.v_proj")},
                     report.folds);
        foldIntoNorm(layers, dense, n("post_attention_layernorm.weight"),
                     {n("mlp.gate_proj"), n("mlp.up_proj")}, report.folds);
        foldIntoLinear(layers, n("self_attn.v_proj"), n("self_attn.o_proj"), report.folds);
        foldIntoLinear(layers, n("mlp.up_proj"), n("mlp.down_proj"), report.folds);
    }
    for (const auto &[name, l] : layers)
        if (l.inputScale.defined())
            throw Error(name + ": its AWQ input scale has no foldable predecessor");

    // Tensors to write, in a stable order: dense first, then the linears in model order.
    std::vector<at::Tensor> keepAlive;
    std::vector<io::TensorWrite> writes;
    auto add = [&](const std::string &name, at::Tensor t, io::DType dt) {
        t = t.contiguous();
        keepAlive.push_back(t);
        writes.push_back({name, dt, t.sizes().vec(), t.data_ptr(),
                          static_cast<size_t>(t.numel()) * t.element_size()});
    };
    const auto denseType = options.denseF16 ? at::kHalf : at::kFloat;
    const auto denseIo = options.denseF16 ? io::DType::F16 : io::DType::F32;
    for (const auto &[name, t] : dense) {
        const auto stored = t.to(denseType);
        if (!at::isfinite(stored).all().item<bool>())
            throw Error(name + ": a value exceeds the float16 range (65504); use --dense f32");
        add(name, stored, denseIo);
    }
    for (const auto &name : model.linearNames()) {
        auto it = layers.find(name);
        if (it == layers.end())
            continue;
        const hfq::HfLinear &l = it->second;
        const auto s16 = l.scales.to(at::kHalf);
        if (!at::isfinite(s16).all().item<bool>())
            throw Error(name + ": a scale exceeds the float16 range (65504)");
        const auto nonzero = l.scales.ne(0);
        if (nonzero.any().item<bool>()) {
            const auto rel = ((s16.to(at::kFloat) - l.scales).abs() / l.scales.abs())
                                 .masked_select(nonzero);
            const double m = rel.max().item<double>();
            if (m > report.maxScaleRelChange || report.maxScaleLayer.empty()) {
                report.maxScaleRelChange = std::max(m, report.maxScaleRelChange);
                report.maxScaleLayer = name;
            }
        }
        if (format == "gptq") {
            add(name + ".qweight", hfq::packGptqRows(l.codes.t().contiguous(), l.bits),
                io::DType::I32);
            // zeros [out, G] pack along out, then stored transposed: [G, out * bits / 32].
            add(name + ".qzeros", hfq::packGptqRows((l.zeros - 1).contiguous(), l.bits).t(),
                io::DType::I32);
            add(name + ".g_idx", l.gIdx.to(at::kInt), io::DType::I32);
        } else {
            add(name + ".qweight", hfq::packAwqCols(l.codes.t().contiguous()), io::DType::I32);
            add(name + ".qzeros", hfq::packAwqCols(l.zeros.t().contiguous()), io::DType::I32);
        }
        add(name + ".scales", s16.t(), io::DType::F16);
        if (l.bias.defined())
            add(name + ".bias", l.bias.to(denseType), denseIo);
        ++report.quantizedLayers;
    }

    json qc;
    if (format == "gptq") {
        const json &spec = options.methodSpec;
        auto specValue = [&](const char *key, const json &fallback) {
            return spec.is_object() && spec.contains(key) ? spec[key] : fallback;
        };
        qc = {{"quant_method", "gptq"},
              {"bits", first->bits},
              {"group_size", first->groupSize},
              {"desc_act", anyPerm || specValue("act_order", false).get<bool>()},
              {"sym", first->symmetric},
              {"static_groups", specValue("static_groups", false)},
              {"true_sequential", true},
              {"damp_percent", specValue("damp", 0.01)},
              {"checkpoint_format", "gptq"}};
    } else {
        qc = {{"quant_method", "awq"},
              {"bits", 4},
              {"group_size", first->groupSize},
              {"zero_point", true},
              {"version", "gemm"}};
    }
    report.quantizationConfig = qc;
    json config = options.baseConfig.is_object() ? options.baseConfig : cfg.toJson();
    config["quantization_config"] = qc;
    config["torch_dtype"] = options.denseF16 ? "float16" : "float32";

    const fs::path partial = dir.string() + ".partial";
    fs::remove_all(partial);
    fs::create_directories(partial);
    io::writeSafetensors(partial / "model.safetensors", writes, {{"format", "pt"}});
    writeFileAtomic(partial / "config.json", config.dump(2) + "\n");
    if (!options.tokenizerFrom.empty())
        copyTokenizerFiles(options.tokenizerFrom, partial);
    fs::rename(partial, dir);
    return report;
}

HfExportSummary exportHfQuantFolder(const std::string &format, const fs::path &modelDir,
                                    const fs::path &outDir, bool denseF16)
{
    const auto model = loadTransformer(modelDir);
    HfExportOptions options;
    options.format = format;
    options.denseF16 = denseF16;
    options.tokenizerFrom = modelDir;
    json config;
    try {
        config = json::parse(readTextFile(modelDir / "config.json"));
    } catch (const json::parse_error &e) {
        throw Error((modelDir / "config.json").string() + ": invalid JSON at byte "
                    + std::to_string(e.byte));
    }
    if (config.contains("quantization_config") && config["quantization_config"].is_object())
        options.methodSpec = config["quantization_config"].value("spec", json::object());
    config.erase("quantization_config");
    options.baseConfig = config;
    const HfExportReport r = exportHfQuantized(*model, outDir, options);
    HfExportSummary s;
    s.format = format;
    s.quantizationConfigJson = r.quantizationConfig.dump();
    s.quantizedLayers = r.quantizedLayers;
    s.folds = r.folds;
    s.maxScaleRelChange = r.maxScaleRelChange;
    s.maxScaleLayer = r.maxScaleLayer;
    return s;
}

} // namespace qb
