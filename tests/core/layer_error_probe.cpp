// Torch side of tst_layer_error: tiny random models, the analyses, plain forwards for the test's
// own reference computations. The checks live in tst_layer_error.cpp.
#include "layer_error_probe.h"

#include "analysis/calibration.h"
#include "analysis/layer_error.h"
#include "analysis/sensitivity.h"
#include "model/transformer.h"
#include "quant/quantize_model.h"

#include <ATen/ATen.h>

namespace qbprobe {

namespace {

qb::ModelConfig tinyConfig(int layers)
{
    qb::ModelConfig c;
    c.vocabSize = 64;
    c.hiddenSize = 32;
    c.intermediateSize = 64;
    c.numLayers = layers;
    c.numHeads = 4;
    c.numKvHeads = 2;
    c.headDim = 8;
    c.maxPositions = 64;
    c.eosTokenIds = {0};
    return c;
}

std::unique_ptr<qb::Transformer> tinyModel(int layers, uint64_t seed = 11)
{
    auto m = std::make_unique<qb::Transformer>(tinyConfig(layers));
    // std 0.2 rather than 0.02 so the blocks change the residual stream noticeably.
    m->initRandom(seed, 0.2);
    return m;
}

std::vector<float> vec(const at::Tensor &t)
{
    auto c = t.detach().to(at::kFloat).contiguous();
    return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

void setWeight(qb::Transformer &m, const std::string &name, const at::Tensor &w)
{
    m.setLinear(name, std::make_shared<qb::DenseLinear>(w.clone()));
}

LinearRow rowOf(const qb::LinearError &e)
{
    LinearRow r;
    r.name = e.name;
    r.module = e.module;
    r.kind = e.kind;
    r.layer = e.layer;
    r.tokens = e.tokens;
    r.actOutlierChannels = e.actOutlierChannels;
    r.weightRelMse = e.weightRelMse;
    r.relMse = e.outputRelMse;
    r.sqnrDb = e.sqnrDb;
    r.cosine = e.cosine;
    r.maxAbs = e.maxAbsError;
    r.kl = e.kl;
    r.actAbsmax = e.actAbsmax;
    r.actOutlierFraction = e.actOutlierFraction;
    r.kurtosis = e.weightKurtosis;
    return r;
}

// 6 sequences of 12 tokens in batches of 4 (so a partial batch is exercised too).
ErrorRun run(qb::Transformer &ref, qb::Transformer &quant, const std::string &histogramLayer = {})
{
    at::NoGradGuard noGrad;
    const auto seqs = qb::randomSequences(6, 12, ref.config().vocabSize, 5);
    const auto batches = qb::sequenceBatches(seqs, ref.config().vocabSize, 4);
    qb::LayerErrorOptions o;
    o.histogramLayer = histogramLayer;
    const auto rep = qb::analyzeLayerError(ref, quant, batches, o);
    ErrorRun r;
    for (const auto &e : rep.linears)
        r.linears.push_back(rowOf(e));
    for (const auto &b : rep.blocks) {
        r.blockRel.push_back(b.relError);
        r.blockCos.push_back(b.cosine);
    }
    r.klMean = rep.model.klMean;
    r.klMax = rep.model.klMax;
    r.pplRef = rep.model.pplReference;
    r.pplQuant = rep.model.pplQuantized;
    r.positions = rep.model.positions;
    r.predicted = rep.model.predicted;
    for (const auto &b : batches) {
        const auto lr = vec(ref.forward(b)), lq = vec(quant.forward(b));
        r.refLogits.insert(r.refLogits.end(), lr.begin(), lr.end());
        r.quantLogits.insert(r.quantLogits.end(), lq.begin(), lq.end());
    }
    for (const auto &s : seqs)
        r.ids.insert(r.ids.end(), s.begin(), s.end());
    r.sequences = static_cast<int64_t>(seqs.size());
    r.seq = 12;
    r.vocab = ref.config().vocabSize;
    r.levels = rep.histogram.levels;
    r.edges = rep.histogram.edges;
    r.histRef = rep.histogram.reference;
    r.histQuant = rep.histogram.quantized;
    r.levelsSource = rep.histogram.levelsSource;
    r.histogramLayer = rep.histogram.layer;
    return r;
}

} // namespace

ErrorRun identityCase()
{
    auto ref = tinyModel(2), quant = tinyModel(2);
    return run(*ref, *quant);
}

ErrorRun scaledCase(const std::string &name, double e)
{
    at::NoGradGuard noGrad;
    auto ref = tinyModel(2), quant = tinyModel(2);
    setWeight(*quant, name, ref->linear(name).denseWeight() * float(1.0 + e));
    return run(*ref, *quant);
}

ErrorRun quantizedCase(const std::string &specJson, int layers, const std::string &histogramLayer)
{
    at::NoGradGuard noGrad;
    auto ref = tinyModel(layers), quant = tinyModel(layers);
    qb::QuantSpec spec;
    spec.method = qb::MethodSpec::fromJson(nlohmann::json::parse(specJson), "probe");
    qb::quantizeModel(*quant, spec, qb::randomSequences(4, 16, 64, 3));
    return run(*ref, *quant, histogramLayer);
}

double kurtosis(const std::vector<float> &w)
{
    return qb::weightKurtosis(at::tensor(w));
}

double reportedKurtosis(const std::vector<float> &w)
{
    at::NoGradGuard noGrad;
    auto ref = tinyModel(2), quant = tinyModel(2);
    const std::string name = "model.layers.0.self_attn.o_proj";
    setWeight(*ref, name, at::tensor(w).view({32, 32}));
    setWeight(*quant, name, at::tensor(w).view({32, 32}));
    for (const auto &row : run(*ref, *quant).linears)
        if (row.name == name)
            return row.kurtosis;
    return -1;
}

OutlierRun outlierCase(int channel, float spike, double threshold)
{
    at::NoGradGuard noGrad;
    auto ref = tinyModel(2), quant = tinyModel(2);
    auto gen = at::make_generator<at::CPUGeneratorImpl>(99);
    auto embed = at::empty({64, 32}, at::kFloat).normal_(0.0, 1.0, gen);
    auto norm = at::ones({32}, at::kFloat);
    norm[channel] = spike;
    for (auto *m : {ref.get(), quant.get()}) {
        m->tensors()["model.embed_tokens.weight"].copy_(embed);
        m->tensors()["model.layers.0.input_layernorm.weight"].copy_(norm);
    }
    const auto seqs = qb::randomSequences(6, 12, 64, 5);
    qb::LayerErrorOptions o;
    o.outlierThreshold = threshold;
    o.layerKl = false;
    const auto rep = qb::analyzeLayerError(*ref, *quant, qb::sequenceBatches(seqs, 64, 4), o);
    OutlierRun r;
    r.embed = vec(embed);
    r.norm = vec(norm);
    r.vocab = 64;
    r.hidden = 32;
    r.eps = ref->config().rmsNormEps;
    for (const auto &s : seqs)
        r.ids.insert(r.ids.end(), s.begin(), s.end());
    r.q = rowOf(rep.linears.front());
    return r;
}

SensitivityRun sensitivityCase(const std::string &lowJson, const std::string &highJson,
                               double budget)
{
    at::NoGradGuard noGrad;
    auto model = tinyModel(2);
    qb::SensitivityOptions o;
    o.low = qb::MethodSpec::fromJson(nlohmann::json::parse(lowJson), "low");
    o.high = qb::MethodSpec::fromJson(nlohmann::json::parse(highJson), "high");
    o.budgetBitsPerParam = budget;
    const auto before = vec(model->forward(at::arange(12, at::kLong).view({1, 12})));
    const auto rep = qb::analyzeSensitivity(*model, qb::randomSequences(6, 12, 64, 5), o);
    const auto after = vec(model->forward(at::arange(12, at::kLong).view({1, 12})));
    SensitivityRun r;
    // The model must come back unchanged.
    if (before != after)
        return r;
    for (const auto &s : rep.layers) {
        r.names.push_back(s.cost.name);
        r.in.push_back(model->linear(s.cost.name).inFeatures());
        r.out.push_back(model->linear(s.cost.name).outFeatures());
        r.klLow.push_back(s.klLow);
        r.klHigh.push_back(s.klHigh);
        r.lowBytes.push_back(s.cost.lowBytes);
        r.highBytes.push_back(s.cost.highBytes);
    }
    for (const auto &c : rep.curve) {
        r.curveBits.push_back(c.bitsPerParam);
        r.curveKl.push_back(c.kl);
    }
    r.ranking = rep.ranking;
    r.upgraded = rep.allocation.upgraded;
    r.allocationBits = rep.allocation.bitsPerParam;
    r.allocationKl = rep.allocationKl;
    r.feasible = rep.allocation.feasible;
    r.overrides = rep.overrides;
    return r;
}

} // namespace qbprobe
