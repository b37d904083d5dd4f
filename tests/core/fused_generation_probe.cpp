// Torch side of tst_fused_generation.
#include "fused_generation_probe.h"

#include "api/decoding.h"
#include "data/gsm_generator.h"
#include "kernels/fused_linear.h"
#include "model/generation.h"
#include "model/kv_cache.h"
#include "model/model_bundle.h"
#include "quant/fused_kernels.h"
#include "quant/method_spec.h"
#include "quant/quantize_model.h"
#include "quant/quantized_linear.h"
#include "support/test_support.h"

#include <c10/core/InferenceMode.h>
#include <cmath>
#include <nlohmann/json.hpp>

namespace fusedprobe {

namespace {

// Counts how many linear forwards would take the fused path: quantized ops whose input has at
// most fusedMaxRows() rows (forward() then calls fusedForward, which these methods implement).
int64_t countFusedCalls(qb::Transformer &model, int64_t rows)
{
    int64_t n = 0;
    for (const auto &name : model.linearNames())
        if (auto *q = dynamic_cast<qb::QuantizedLinear *>(&model.linear(name)))
            n += rows <= q->fusedMaxRows() ? 1 : 0;
    return n;
}

// The first n generated GSM-style test questions, encoded.
std::vector<std::vector<int64_t>> promptIds(const qb::ModelBundle &bundle, int n)
{
    std::vector<std::vector<int64_t>> ids;
    for (const auto &p : qb::data::generateGsmProblems({}, qb::data::Split::Test, n))
        ids.push_back(bundle.codec->encode(p.record.question));
    return ids;
}

// Logits [1, 1, vocab] of one greedy decoding step after the prompt's cached prefill (the step's
// attention reads the cache: the fused kernel's when the fused kernels are on).
at::Tensor decodeStepLogits(qb::Transformer &model, const std::vector<int64_t> &prompt,
                            qb::KvCacheFormat format)
{
    c10::InferenceMode inference;
    qb::KVCache cache;
    cache.allocate(model.config(), 1, int64_t(prompt.size()) + 1, format);
    qb::ForwardOptions o;
    o.cache = &cache;
    const auto next
        = model.forward(at::tensor(prompt, at::kLong).unsqueeze(0), o).select(1, -1).argmax(-1);
    return model.forward(next.view({1, 1}), o);
}

} // namespace

Comparison compare(const std::string &methodJson, int prompts, int batch, int maxNewTokens,
                   bool int8Activations)
{
    auto bundle = qb::loadModelBundle(qbtest::sourceDir() / "resources" / "tiny-reasoner");
    if (!methodJson.empty()) {
        qb::QuantSpec spec;
        spec.method = qb::MethodSpec::fromJson(nlohmann::json::parse(methodJson), "probe");
        qb::quantizeModel(*bundle.model, spec, {});
    }

    const auto ids = promptIds(bundle, prompts);
    qb::DecodingConfig d;
    d.strategy = "greedy";
    d.maxNewTokens = maxNewTokens;
    Comparison c;
    c.kernelPath = qb::kernels::kernel_path_name(qb::kernels::active_kernel_path());
    for (bool fused : {true, false}) {
        qb::setFusedKernelsEnabled(fused);
        qb::setInt8ActivationKernels(fused && int8Activations);
        auto &out = fused ? c.fused : c.reference;
        for (size_t i = 0; i < ids.size(); i += batch) {
            const std::vector<std::vector<int64_t>> chunk(
                ids.begin() + i, ids.begin() + std::min(ids.size(), i + batch));
            for (auto &row : qb::generate(*bundle.model, chunk, d, bundle.endTokens()))
                out.push_back(row);
        }
    }
    // Logits of the first 8 tokens of each prompt, one prompt at a time (8 rows: the fused
    // kernels' largest batch, two tiles of four).
    const int64_t t = 8;
    c.fusedCalls = countFusedCalls(*bundle.model, t);
    for (const auto &p : ids) {
        std::vector<int64_t> head(p.begin(), p.begin() + std::min<size_t>(p.size(), t));
        const auto x = at::tensor(head, at::kLong).unsqueeze(0);
        qb::setFusedKernelsEnabled(true);
        qb::setInt8ActivationKernels(int8Activations);
        const auto lf = bundle.model->forward(x);
        qb::setFusedKernelsEnabled(false);
        qb::setInt8ActivationKernels(false);
        const auto lr = bundle.model->forward(x);
        c.maxLogitDiff = std::max(c.maxLogitDiff, (lf - lr).abs().max().item<double>());
        c.maxLogitAbs = std::max(c.maxLogitAbs, lr.abs().max().item<double>());
    }
    // One decoding step after a cached prefill (the step's attention is the fused kernel's).
    for (const auto &p : ids) {
        at::Tensor logits[2];
        for (int fused = 0; fused < 2; ++fused) {
            qb::setFusedKernelsEnabled(fused == 1);
            qb::setInt8ActivationKernels(fused == 1 && int8Activations);
            logits[fused] = decodeStepLogits(*bundle.model, p, qb::KvCacheFormat::Fp32);
        }
        c.maxDecodeLogitDiff
            = std::max(c.maxDecodeLogitDiff, (logits[1] - logits[0]).abs().max().item<double>());
    }
    qb::setFusedKernelsEnabled(true);
    qb::setInt8ActivationKernels(false);
    return c;
}

CacheComparison compareQuantizedCache(const std::string &format, int prompts, int batch,
                                      int maxNewTokens)
{
    auto bundle = qb::loadModelBundle(qbtest::sourceDir() / "resources" / "tiny-reasoner");
    const auto ids = promptIds(bundle, prompts);
    qb::DecodingConfig d;
    d.strategy = "greedy";
    d.maxNewTokens = maxNewTokens;
    d.kvCache = qb::kvCacheFormatFromName(format);
    CacheComparison c;
    for (bool fused : {true, false}) {
        qb::setFusedKernelsEnabled(fused);
        auto &out = fused ? c.fused : c.reference;
        out = qb::generate(*bundle.model, ids, d, bundle.endTokens(), batch);
    }
    for (const auto &p : ids) {
        at::Tensor logits[2];
        for (int fused = 0; fused < 2; ++fused) {
            qb::setFusedKernelsEnabled(fused == 1);
            logits[fused] = decodeStepLogits(*bundle.model, p, d.kvCache);
        }
        c.maxDecodeLogitDiff
            = std::max(c.maxDecodeLogitDiff, (logits[1] - logits[0]).abs().max().item<double>());
        c.maxLogitAbs = std::max(c.maxLogitAbs, logits[0].abs().max().item<double>());
    }
    qb::setFusedKernelsEnabled(true);
    return c;
}

RowsCheck int8ActivationRows()
{
    auto bundle = qb::loadModelBundle(qbtest::sourceDir() / "resources" / "tiny-reasoner");
    qb::QuantSpec spec;
    spec.method = qb::MethodSpec::fromJson(
        nlohmann::json::parse(R"({"method": "int", "bits": 4, "group_size": 128})"), "probe");
    qb::quantizeModel(*bundle.model, spec, {});
    auto &op = bundle.model->linear("model.layers.1.mlp.down_proj");
    const auto x = at::randn({40, op.inFeatures()}, at::TensorOptions().dtype(at::kFloat));
    RowsCheck c;
    qb::setInt8ActivationKernels(true);
    const auto batched = op.forward(x);
    std::vector<at::Tensor> rows;
    for (int64_t i = 0; i < 40; ++i)
        rows.push_back(op.forward(x.narrow(0, i, 1)));
    qb::setInt8ActivationKernels(false);
    const auto floats = op.forward(x);
    c.batchedVsSingle = (batched - at::cat(rows, 0)).abs().max().item<double>();
    c.int8VsFloat = (batched - floats).abs().max().item<double>();
    return c;
}

Bf16Check bf16ComputeRows()
{
    auto bundle = qb::loadModelBundle(qbtest::sourceDir() / "resources" / "tiny-reasoner");
    auto &op = bundle.model->linear("model.layers.1.mlp.down_proj");
    const auto x = at::randn({40, op.inFeatures()}, at::TensorOptions().dtype(at::kFloat));
    Bf16Check c;
    at::NoGradGuard noGrad;
    const auto floats = op.forward(x);
    qb::setBf16Compute(true);
    c.active = qb::bf16ComputeActive();
    const auto batched = op.forward(x);
    std::vector<at::Tensor> rows;
    for (int64_t i = 0; i < 40; ++i)
        rows.push_back(op.forward(x.narrow(0, i, 1)));
    qb::setBf16Compute(false);
    c.batchedVsSingle = (batched - at::cat(rows, 0)).abs().max().item<double>();
    const auto bound = at::matmul(x.abs().to(at::kDouble), op.denseWeight().abs().to(at::kDouble).t())
        * std::ldexp(1.0, -7);
    const auto diff = (batched - floats).abs().to(at::kDouble);
    c.worstRatioToBound = (diff / bound).max().item<double>();
    c.maxDiff = diff.max().item<double>();
    return c;
}

PlacementCheck weightPlacement()
{
    auto place = [](const at::Tensor &t) {
        const at::Tensor p = qb::packedWeightStorage(t);
        Placement r;
        r.equal = at::equal(p, t);
        r.aligned = reinterpret_cast<uintptr_t>(p.data_ptr()) % (uintptr_t(2) << 20) == 0;
        r.sameStorage = p.data_ptr() == t.data_ptr();
        return r;
    };
    const at::Tensor large = at::randint(0, 256, {4096, 1280}, at::kByte);
    const at::Tensor small = at::randint(0, 256, {1024, 1024}, at::kByte);
    PlacementCheck c;
    const bool was = qb::hugePageWeightsEnabled();
    qb::setHugePageWeights(true);
    c.large = place(large);
    c.small = place(small);
    qb::setHugePageWeights(false);
    c.largeOff = place(large);
    qb::setHugePageWeights(was);
    c.thpMode = qb::transparentHugePageMode();
    return c;
}

} // namespace fusedprobe
