// Torch side of tst_generation.
#include "generation_probe.h"

#include "data/gsm_generator.h"
#include "eval/question_set.h"
#include "model/generation.h"
#include "model/kv_cache.h"
#include "model/linear.h"
#include "model/model_bundle.h"
#include "quant/fused_kernels.h"
#include "quant/quantize_model.h"
#include "support/test_support.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>

namespace genprobe {

namespace {

Tokens generateShippedWith(const Run &run, qb::GenerationStats *stats, int64_t *promptTokens)
{
    auto bundle = qb::loadModelBundle(qbtest::sourceDir() / "resources" / "tiny-reasoner");
    if (!run.quant.empty()) {
        qb::QuantSpec spec;
        spec.method = qb::MethodSpec::fromJson({{"method", run.quant}}, "test");
        qb::quantizeModel(*bundle.model, spec, {});
    }
    const auto problems = qb::data::generateGsmProblems({}, qb::data::Split::Test, run.prompts);
    const auto set = qb::eval::gsmQuestions(qb::data::recordsOf(problems), {});
    Tokens prompts;
    for (const auto &q : set.questions) {
        prompts.push_back(bundle.codec->encode(q.prompt));
        if (promptTokens)
            *promptTokens += static_cast<int64_t>(prompts.back().size());
    }
    qb::DecodingConfig d;
    d.maxNewTokens = run.maxNewTokens;
    d.useCache = run.useCache;
    d.refill = run.refill;
    d.kvCache = qb::kvCacheFormatFromName(run.kvCache);
    d.strategy = run.strategy;
    d.seed = run.seed;
    qb::GenerationHooks hooks;
    hooks.stats = stats;
    return qb::generate(*bundle.model, prompts, d, bundle.endTokens(), run.batch, hooks);
}

} // namespace

Tokens generateShipped(const Run &run) { return generateShippedWith(run, nullptr, nullptr); }

PackedBudgetRun packedBudget()
{
    PackedBudgetRun r;
    const int64_t budget = qb::packedWeightBudget(), before = qb::packedWeightBytes();
    at::NoGradGuard noGrad;
    const at::Tensor w = at::randn({64, 48}), b = at::randn({64}), x = at::randn({5, 48});
    const at::Tensor want = at::linear(x, w, b);
    bool match = true;
    {
        auto op = std::make_shared<qb::DenseLinear>(w, b);
        qb::setPackedWeightBudget(before + 8 * 1024);
        match &= (op->forward(x) - want).abs().max().item<double>() < 1e-5;
        r.heldUnder8k = qb::packedWeightBytes() - before;
        qb::setPackedWeightBudget(before + 1024 * 1024);
        match &= (op->forward(x) - want).abs().max().item<double>() < 1e-5;
        r.heldUnder1m = qb::packedWeightBytes() - before;
        qb::DenseLinear copy = *op; // packs again on first use
        match &= (copy.forward(x) - want).abs().max().item<double>() < 1e-5;
        r.heldAfterCopy = qb::packedWeightBytes() - before;
    }
    r.heldAfterRelease = qb::packedWeightBytes() - before;
    r.resultsMatch = match;
    qb::setPackedWeightBudget(budget);
    return r;
}

LastPositionDiff lastPositionOnlyDiff(bool fused)
{
    const bool wasFused = qb::fusedKernelsEnabled();
    qb::setFusedKernelsEnabled(fused);
    auto bundle = qb::loadModelBundle(qbtest::sourceDir() / "resources" / "tiny-reasoner");
    const auto &config = bundle.model->config();
    // Four prompts of 9, 5, 12 and 1 tokens, left-padded to 12.
    const std::vector<int64_t> lengths{9, 5, 12, 1};
    const int64_t b = 4, t = 12;
    at::Tensor ids = at::zeros({b, t}, at::kLong), mask = at::zeros({b, t}, at::kLong);
    at::Tensor positions = at::ones({b, t}, at::kLong);
    for (int64_t r = 0; r < b; ++r)
        for (int64_t i = 0; i < lengths[r]; ++i) {
            const int64_t col = t - lengths[r] + i;
            ids[r][col] = 5 + (r * 37 + i * 11) % (config.vocabSize - 5);
            mask[r][col] = 1;
            positions[r][col] = i;
        }
    LastPositionDiff d;
    at::Tensor hidden[2];
    qb::KVCache caches[2];
    for (int last = 0; last < 2; ++last) {
        qb::ForwardOptions opt;
        opt.cache = &caches[last];
        opt.attentionMask = mask;
        opt.positions = positions;
        opt.lastPositionOnly = last == 1;
        at::NoGradGuard noGrad;
        hidden[last] = bundle.model->hidden(ids, opt);
    }
    d.returnedPositions = hidden[1].size(1);
    d.hidden = (hidden[1].select(1, -1) - hidden[0].select(1, -1)).abs().max().item<double>();
    for (int64_t l = 0; l < config.numLayers; ++l) {
        const double keys = (caches[0].keys(l) - caches[1].keys(l)).abs().max().item<double>();
        const double values
            = (caches[0].values(l) - caches[1].values(l)).abs().max().item<double>();
        d.cache = std::max({d.cache, keys, values});
    }
    qb::setFusedKernelsEnabled(wasFused);
    return d;
}

PrefillCount prefillCount(const Run &run)
{
    PrefillCount c;
    qb::GenerationStats stats;
    generateShippedWith(run, &stats, &c.promptTokens);
    c.prefillTokens = stats.prefillTokens;
    c.prefillSeconds = stats.prefillSeconds;
    return c;
}

std::vector<float> kvRoundTrip(const std::vector<float> &values, int64_t headDim,
                               const std::string &format, std::vector<float> *scales)
{
    const auto f = qb::kvCacheFormatFromName(format);
    const int64_t rows = static_cast<int64_t>(values.size()) / headDim;
    at::Tensor x = at::tensor(values, at::kFloat).view({rows, headDim});
    auto [codes, s] = qb::KVCache::quantize(x, f);
    at::Tensor back = qb::KVCache::dequantize(codes, s, f).contiguous();
    if (scales)
        *scales = std::vector<float>(s.data_ptr<float>(), s.data_ptr<float>() + s.numel());
    return std::vector<float>(back.data_ptr<float>(), back.data_ptr<float>() + back.numel());
}

namespace {

// The bound the format promises per element of one vector x [head_dim] (model/kv_cache.h):
// fp32 exact, int8 half a step of absmax / 127, int4 half a step of absmax / 7, fp8 e4m3 half an ulp (2^-4 relative, 3 mantissa
// bits) or half the subnormal step (2^-10 of the scale absmax / 448).
at::Tensor boundOf(const at::Tensor &x, const std::string &format)
{
    const at::Tensor absmax = x.abs().amax(-1, true);
    if (format == "int8")
        return (absmax / 127.0 / 2.0).expand_as(x) * (1 + 1e-5) + 1e-12;
    if (format == "int4")
        return (absmax / 7.0 / 2.0).expand_as(x) * (1 + 1e-5) + 1e-12;
    if (format == "fp8")
        return at::maximum(x.abs() / 16.0, (absmax / 448.0 / 1024.0).expand_as(x)) * (1 + 1e-5)
            + 1e-12;
    return at::full_like(x, 1e-30);
}

double worst(const at::Tensor &stored, const at::Tensor &written, const std::string &format)
{
    return ((stored - written).abs() / boundOf(written, format)).max().item<double>();
}

} // namespace

double kvCacheWriteErrorOverBound(const std::string &format)
{
    const auto f = qb::kvCacheFormatFromName(format);
    qb::ModelConfig c;
    c.numLayers = 2;
    c.numKvHeads = 2;
    c.headDim = 8;
    auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
    auto randn = [&](std::vector<int64_t> shape) {
        // Magnitudes spread over three decades, as keys and values of real models are.
        return at::randn(shape, gen) * at::pow(10.0, at::rand(shape, gen) * 3 - 1);
    };
    // Two rows of three positions (capacity 2: the cache must grow), then one row of one position
    // appended, then one position for every row at its own length.
    qb::KVCache a;
    a.allocate(c, 2, 2, f);
    const at::Tensor k0 = randn({2, 2, 3, 8}), v0 = randn({2, 2, 3, 8});
    for (int64_t l = 0; l < c.numLayers; ++l)
        a.write(l, k0, v0);
    a.advance(3);
    qb::KVCache b;
    b.allocate(c, 1, 1, f);
    const at::Tensor kb = randn({1, 2, 1, 8});
    for (int64_t l = 0; l < c.numLayers; ++l)
        b.write(l, kb, kb);
    b.advance(1);
    a.appendRows(b);
    if (a.batch() != 3 || a.rowLength(0) != 3 || a.rowLength(2) != 1 || a.uniform())
        return 1e9;
    const at::Tensor k1 = randn({3, 2, 1, 8});
    at::Tensor seen;
    for (int64_t l = 0; l < c.numLayers; ++l)
        seen = a.write(l, k1, k1).first; // what attention reads: [3, 2, 4, 8]
    a.advance(1);
    if (seen.size(2) != 4 || a.rowLength(0) != 4 || a.rowLength(2) != 2 || a.length() != 4)
        return 1e9;
    double w = 0;
    const at::Tensor keys = a.keys(1);
    w = std::max(w, worst(keys.narrow(0, 0, 2).narrow(2, 0, 3), k0, format));
    w = std::max(w, worst(keys.narrow(0, 0, 2).narrow(2, 3, 1), k1.narrow(0, 0, 2), format));
    w = std::max(w, worst(keys.narrow(0, 2, 1).narrow(2, 0, 1), kb, format));
    w = std::max(w, worst(keys.narrow(0, 2, 1).narrow(2, 1, 1), k1.narrow(0, 2, 1), format));
    w = std::max(w, worst(seen, keys, "fp32") > 0 ? 1e9 : 0.0);
    // Keeping rows 2 and 0 (in that order) keeps their positions.
    a.keepRows({2, 0});
    const at::Tensor kept = a.keys(0);
    if (a.batch() != 2 || a.rowLength(0) != 2 || a.rowLength(1) != 4)
        return 1e9;
    w = std::max(w, worst(kept.narrow(0, 0, 1).narrow(2, 1, 1), k1.narrow(0, 2, 1), format));
    w = std::max(w, worst(kept.narrow(0, 1, 1).narrow(2, 0, 3), k0.narrow(0, 0, 1), format));
    return w;
}

int64_t kvBytesPerPosition(const std::string &format)
{
    const auto config = qb::ModelConfig::load(qbtest::sourceDir() / "resources" / "tiny-reasoner"
                                              / "config.json");
    qb::KVCache cache;
    cache.allocate(config, 1, 1, qb::kvCacheFormatFromName(format));
    return cache.bytesPerPosition();
}

} // namespace genprobe
