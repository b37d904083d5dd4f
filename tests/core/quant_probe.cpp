// Torch side of tst_quant: builds the ops and runs them; the checks live in tst_quant.cpp.
#include "quant_probe.h"

#include "model/transformer.h"
#include "quant/awq.h"
#include "quant/gptq.h"
#include "quant/int8_linear.h"
#include "quant/int_group_linear.h"
#include "quant/nf4_linear.h"
#include "quant/method_spec.h"
#include "model/model_bundle.h"
#include "quant/quant_checkpoint.h"
#include "quant/quantize_model.h"
#include "quant/smoothquant_linear.h"

#include <ATen/ATen.h>

namespace qbprobe {

namespace {

at::Tensor tensor(const Mat &m, int64_t rows, int64_t cols)
{
    return at::from_blob(const_cast<float *>(m.data()), {rows, cols}, at::kFloat).clone();
}

Mat vec(const at::Tensor &t)
{
    auto c = t.detach().to(at::kFloat).contiguous();
    return Mat(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

qb::ModelConfig tinyConfig(bool tie)
{
    qb::ModelConfig c;
    c.vocabSize = 50;
    c.hiddenSize = 64;
    c.intermediateSize = 128;
    c.numLayers = 2;
    c.numHeads = 4;
    c.numKvHeads = 2;
    c.headDim = 16;
    c.maxPositions = 64;
    c.tieWordEmbeddings = tie;
    c.eosTokenIds = {0};
    return c;
}

} // namespace

DenseRun denseForward(const Mat &w, int64_t out, int64_t in, const Mat &bias, const Mat &x,
                      const std::vector<int64_t> &xShape)
{
    at::NoGradGuard noGrad;
    qb::DenseLinear dense(tensor(w, out, in),
                          bias.empty() ? at::Tensor() : at::tensor(bias, at::kFloat));
    const at::Tensor y = dense.forward(at::tensor(x, at::kFloat).reshape(xShape));
    return {vec(y), y.sizes().vec()};
}

OpRun runOp(const std::string &specJson, const Mat &w, int64_t out, int64_t in, const Mat &x,
            int64_t tokens, const Mat &calibX, int64_t calibTokens)
{
    at::NoGradGuard noGrad;
    const auto spec = qb::MethodSpec::fromJson(nlohmann::json::parse(specJson), "probe");
    qb::DenseLinear dense(tensor(w, out, in));
    qb::LayerCalibration calib;
    if (calibTokens > 0) {
        auto cx = tensor(calibX, calibTokens, in);
        calib.rows = cx;
        calib.absmax = cx.abs().amax(0);
        calib.hessian = qb::gptqHessian(cx);
        calib.tokens = calibTokens;
    }
    auto op = qb::quantizeLinear(dense, spec, calibTokens > 0 ? &calib : nullptr, "probe");
    OpRun r;
    r.y = vec(op->forward(tensor(x, tokens, in)));
    r.dense = vec(op->denseWeight());
    r.weightBytes = op->weightBytes();
    r.kind = op->kind();
    if (auto *sq = dynamic_cast<qb::SmoothQuantLinear *>(op.get()))
        r.extra = vec(sq->smooth());
    if (auto *ig = dynamic_cast<qb::IntGroupLinear *>(op.get())) {
        if (ig->inputScale().defined())
            r.extra = vec(ig->inputScale());
        const auto t = ig->tensors();
        r.tensorsContiguous = std::all_of(t.begin(), t.end(),
                                          [](const auto &kv) { return kv.second.is_contiguous(); });
        qb::IntGroupLinear reloaded(ig->intConfig(), out, in, t);
        reloaded.setMethod(ig->methodConfig().value("method", "int"));
        r.reloadedY = vec(reloaded.forward(tensor(x, tokens, in)));
    }
    if (auto *nf = dynamic_cast<qb::Nf4Linear *>(op.get())) {
        const auto t = nf->tensors();
        r.tensorsContiguous = std::all_of(t.begin(), t.end(), [](const auto &kv) {
            return kv.second.is_contiguous() && (kv.first == "bias" || kv.second.dim() == 1);
        });
        const auto cfg = nf->methodConfig();
        qb::Nf4Linear reloaded(cfg["method"] == "nf4" ? qb::kernels::Codebook4::Nf4
                                                      : qb::kernels::Codebook4::Fp4,
                               out, in, cfg["block_size"].get<int>(), t);
        r.reloadedY = vec(reloaded.forward(tensor(x, tokens, in)));
    }
    if (auto *llm = dynamic_cast<qb::LlmInt8Linear *>(op.get()))
        r.outliers = llm->lastOutlierColumns();
    return r;
}

GradRun gradThroughOp(const std::string &specJson, const Mat &w, int64_t out, int64_t in,
                      const Mat &x, int64_t tokens, const Mat &g)
{
    const auto spec = qb::MethodSpec::fromJson(nlohmann::json::parse(specJson), "probe");
    std::shared_ptr<qb::LinearOp> op;
    {
        // Calibrated on x itself (SmoothQuant needs activation ranges).
        at::NoGradGuard noGrad;
        qb::DenseLinear dense(tensor(w, out, in));
        qb::LayerCalibration calib;
        calib.rows = tensor(x, tokens, in);
        calib.absmax = calib.rows.abs().amax(0);
        calib.hessian = qb::gptqHessian(calib.rows);
        calib.tokens = tokens;
        op = qb::quantizeLinear(dense, spec, &calib, "probe");
    }
    GradRun r;
    at::Tensor xt = tensor(x, tokens, in).clone().set_requires_grad(true);
    const at::Tensor y = op->forward(xt);
    r.requiresGrad = y.requires_grad();
    r.y = vec(y.detach());
    if (r.requiresGrad) {
        (y * tensor(g, tokens, out)).sum().backward();
        r.grad = vec(xt.grad());
    }
    at::NoGradGuard noGrad;
    r.yNoGrad = vec(op->forward(tensor(x, tokens, in)));
    r.dense = vec(op->denseWeight());
    return r;
}

Mat actQuant(const Mat &x, int64_t rows, int64_t cols, int bits, const Mat &g, Mat *grad)
{
    at::Tensor xt = tensor(x, rows, cols).clone().set_requires_grad(true);
    const at::Tensor y = qb::fakeQuantizeActivations(xt, bits);
    (y * tensor(g, rows, cols)).sum().backward();
    if (grad)
        *grad = vec(xt.grad());
    return vec(y.detach());
}

GptqRun runGptq(const std::string &variant, const Mat &w, int64_t out, int64_t in, const Mat &x,
                int64_t tokens, int bits, int groupSize, bool symmetric, bool actOrder,
                bool staticGroups, int blockSize)
{
    at::NoGradGuard noGrad;
    qb::GptqConfig cfg;
    cfg.quant = {bits, groupSize, symmetric};
    cfg.actOrder = actOrder;
    cfg.staticGroups = staticGroups;
    cfg.blockSize = blockSize;
    auto wt = tensor(w, out, in);
    auto h = qb::gptqHessian(tensor(x, tokens, in));
    qb::GptqResult res = variant == "ref"
        ? qb::gptqQuantizeRef(wt, h, cfg)
        : qb::gptqQuantize(wt, h, cfg, variant == "blocked64" ? at::kDouble : at::kFloat);
    GptqRun r;
    auto codes = res.codes.contiguous();
    r.codes.assign(codes.data_ptr<uint8_t>(), codes.data_ptr<uint8_t>() + codes.numel());
    r.scales = vec(res.scales);
    if (res.zeros.defined())
        r.zeros.assign(res.zeros.data_ptr<uint8_t>(),
                       res.zeros.data_ptr<uint8_t>() + res.zeros.numel());
    if (res.perm.defined())
        r.perm.assign(res.perm.data_ptr<int64_t>(),
                      res.perm.data_ptr<int64_t>() + res.perm.numel());
    r.dense = vec(qb::gptqLinear(res, cfg.quant, {})->denseWeight());
    return r;
}

AwqRun runAwq(bool reference, const Mat &w, int64_t out, int64_t in, const Mat &x, int64_t tokens,
              int bits, int groupSize, bool clip)
{
    at::NoGradGuard noGrad;
    qb::AwqConfig cfg;
    cfg.quant = {bits, groupSize, false};
    cfg.clipSearch = clip;
    auto wt = tensor(w, out, in);
    auto xt = tensor(x, tokens, in);
    AwqRun r;
    const qb::AwqSearch s
        = reference ? qb::awqSearchScalesRef(wt, xt, cfg) : qb::awqSearchScales(wt, xt, cfg);
    r.losses = s.losses;
    r.best = s.best;
    if (!reference)
        r.dense = vec(qb::awqQuantize(wt, {}, xt, cfg)->denseWeight());
    return r;
}

RoundTrip roundTrip(const std::string &specJson, const std::vector<std::string> &overrides,
                    const std::string &dir, bool tie)
{
    at::NoGradGuard noGrad;
    qb::Transformer model(tinyConfig(tie));
    model.initRandom(7, 0.08);
    auto ids = at::tensor(std::vector<int64_t>{3, 14, 15, 9, 26, 5, 35, 8, 9, 7, 9, 3}, at::kLong)
                   .reshape({1, -1});
    RoundTrip r;
    r.denseLogits = vec(model.forward(ids));
    qb::QuantSpec spec;
    spec.method = qb::MethodSpec::fromJson(nlohmann::json::parse(specJson), "probe");
    for (const auto &o : overrides) {
        const auto colon = o.find(':');
        nlohmann::json flat = spec.method.toJson(); // the override's keys over the base's
        flat.update(nlohmann::json::parse(o.substr(colon + 1)));
        spec.overrides.push_back({o.substr(0, colon), qb::MethodSpec::fromJson(flat, "probe")});
    }
    std::vector<std::vector<int64_t>> calib;
    for (int s = 0; s < 6; ++s) {
        std::vector<int64_t> seq;
        for (int i = 0; i < 16; ++i)
            seq.push_back((s * 17 + i * 7) % 50);
        calib.push_back(seq);
    }
    qb::quantizeModel(model, spec, calib);
    r.quantLogits = vec(model.forward(ids));
    r.bytesBefore = model.weightBytes();
    for (const auto &n : model.linearNames())
        r.kindsBefore.push_back(model.linear(n).kind());
    qb::saveQuantizedModel(model, dir);
    r.flaggedQuantized = qb::isQuantizedCheckpoint(dir);
    auto loaded = qb::loadTransformer(dir);
    r.loadedLogits = vec(loaded->forward(ids));
    r.bytesAfter = loaded->weightBytes();
    for (const auto &n : loaded->linearNames())
        r.kindsAfter.push_back(loaded->linear(n).kind());
    return r;
}

bool glob(const std::string &pattern, const std::string &name)
{
    return qb::globMatch(pattern, name);
}

std::vector<std::string> select(const std::vector<std::string> &include,
                                const std::vector<std::string> &exclude,
                                const std::vector<std::string> &overridePatterns, bool tie)
{
    qb::Transformer model(tinyConfig(tie));
    qb::QuantSpec spec;
    spec.include = include;
    spec.exclude = exclude;
    for (const auto &p : overridePatterns)
        spec.overrides.push_back({p, qb::MethodSpec()});
    return qb::selectLayers(model, spec);
}

} // namespace qbprobe
