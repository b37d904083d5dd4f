#include "gguf_probe.h"

#include "io/gguf.h"
#include "model/gguf_export.h"
#include "model/gguf_import.h"
#include "model/model_bundle.h"
#include "quant/int_group_linear.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/files.h"

#include <ATen/ATen.h>

#include <cmath>

namespace fs = std::filesystem;

namespace gguf_probe {

namespace {

qb::ModelConfig tinyConfig(const std::string &modelType, bool tied)
{
    qb::ModelConfig c;
    c.modelType = modelType;
    c.vocabSize = 96;
    c.hiddenSize = 64;
    c.intermediateSize = 96;
    c.numLayers = 2;
    c.numHeads = 4;
    c.numKvHeads = 2;
    c.headDim = 16;
    c.maxPositions = 64;
    c.rmsNormEps = 1e-5;
    c.ropeTheta = 10000.0;
    c.tieWordEmbeddings = tied;
    c.qkvBias = modelType == "qwen2";
    c.eosTokenIds = {1};
    return c;
}

qb::ModelBundle tinyBundle(const std::string &modelType, bool tied, uint64_t seed)
{
    qb::ModelBundle b;
    b.model = std::make_unique<qb::Transformer>(tinyConfig(modelType, tied));
    b.model->initRandom(seed, 0.1);
    at::NoGradGuard noGrad;
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed + 1);
    for (auto &[name, t] : b.model->tensors())
        if (name.find("norm") != std::string::npos)
            t.uniform_(0.5, 1.5, gen); // norms that are not all ones, so a swapped norm shows
    for (const auto &name : b.model->linearNames()) {
        auto bias = b.model->linear(name).bias();
        if (bias.defined())
            bias.normal_(0.0, 0.1, gen);
    }
    return b;
}

at::Tensor sampleIds(int64_t vocab)
{
    auto gen = at::make_generator<at::CPUGeneratorImpl>(7);
    return at::randint(0, vocab, {2, 9}, gen, at::kLong);
}

// ggml's rounding rules in torch ops (Q8_0: roundf, ties away from zero; Q4_0: truncation of
// x/d + 8.5 with d = m / -8 for the signed value m of largest magnitude, first on ties).
at::Tensor blockRoundTrip(const at::Tensor &w, const std::string &type)
{
    const auto x = w.contiguous().view({-1, 32});
    at::Tensor d, q;
    if (type == "q8_0") {
        d = x.abs().amax(1, true) / 127.0f;
        const auto id = at::where(d.ne(0), d.reciprocal(), at::zeros_like(d));
        const auto v = x * id;
        const auto t = at::trunc(v);
        q = at::where((v - t).abs().eq(0.5), t + at::sign(v), at::round(v));
    } else {
        const auto m = x.gather(1, x.abs().argmax(1, true));
        d = m / -8.0f;
        const auto id = at::where(d.ne(0), d.reciprocal(), at::zeros_like(d));
        q = at::clamp_max(at::trunc(x * id + 8.5f), 15.0) - 8.0f;
    }
    const auto d16 = d.to(at::kHalf).to(at::kFloat);
    return (q * d16).view(w.sizes());
}

std::string exportTo(const qb::ModelBundle &b, const fs::path &path, const std::string &type,
                     const std::string &tokenizerJson = "")
{
    qb::GgufExportOptions o;
    o.type = type;
    qb::exportGguf(b, tokenizerJson, path, o);
    return path.string();
}

} // namespace

double f32RoundTripLogitDiff(const std::string &dir, const std::string &modelType, bool tied)
{
    at::NoGradGuard noGrad;
    auto b = tinyBundle(modelType, tied, 11);
    const fs::path path = fs::path(dir) / (modelType + (tied ? "-tied" : "") + ".gguf");
    exportTo(b, path, "f32");
    auto imported = qb::loadModelBundle(path);
    const auto ids = sampleIds(b.model->config().vocabSize);
    return (b.model->forward(ids) - imported.model->forward(ids)).abs().max().item<double>();
}

QuantCheck quantizedRoundTrip(const std::string &dir, const std::string &type,
                              const std::string &modelType)
{
    at::NoGradGuard noGrad;
    QuantCheck r;
    auto b = tinyBundle(modelType, /*tied=*/false, 23);
    const fs::path path = fs::path(dir) / (modelType + "-" + type + ".gguf");
    exportTo(b, path, type);
    auto imported = qb::loadModelBundle(path);

    qb::Transformer expected(b.model->config());
    for (auto &[name, t] : expected.tensors())
        t.copy_(b.model->tensors().at(name));
    r.maxWeightDiff = 0;
    r.packedOps = true;
    for (const auto &name : b.model->linearNames()) {
        const auto &op = b.model->linear(name);
        const at::Tensor w = blockRoundTrip(op.denseWeight(), type);
        expected.setLinear(name, std::make_shared<qb::DenseLinear>(w, op.bias()));
        const auto &got = imported.model->linear(name);
        r.maxWeightDiff = std::max(r.maxWeightDiff,
                                   (got.denseWeight() - w).abs().max().item<double>());
        if (got.bias().defined())
            r.maxWeightDiff = std::max(r.maxWeightDiff,
                                       (got.bias() - op.bias()).abs().max().item<double>());
        r.packedOps = r.packedOps && got.kind() != "dense";
    }
    // [2, 9] goes through the dequantize + matmul reference, [1, 5] (<= 16 rows) through the
    // fused small-batch kernel.
    const auto ids = sampleIds(b.model->config().vocabSize);
    for (const auto &x : {ids, ids.narrow(0, 0, 1).narrow(1, 0, 5)}) {
        const auto ref = expected.forward(x);
        r.logitScale = std::max(r.logitScale, ref.abs().max().item<double>());
        r.maxLogitDiff = std::max(r.maxLogitDiff,
                                  (imported.model->forward(x) - ref).abs().max().item<double>());
    }
    return r;
}

RopeCheck ropeScores(const std::string &dir)
{
    at::NoGradGuard noGrad;
    auto b = tinyBundle("llama", false, 31);
    const fs::path path = fs::path(dir) / "rope.gguf";
    exportTo(b, path, "f32");
    const auto file = qb::io::GgufFile::open(path);
    const auto &c = b.model->config();
    const int64_t hd = c.headDim, groups = c.numHeads / c.numKvHeads;
    auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
    const auto x1 = at::randn({c.hiddenSize}, gen, at::kDouble);
    const auto x2 = at::randn({c.hiddenSize}, gen, at::kDouble);
    auto project = [](const std::vector<float> &rows, int64_t out, int64_t in,
                      const at::Tensor &x) {
        const auto w = at::from_blob(const_cast<float *>(rows.data()), {out, in}, at::kFloat);
        return at::mv(w.to(at::kDouble), x);
    };
    const auto qFile = project(file.readFloat32(*file.findTensor("blk.0.attn_q.weight")),
                               c.numHeads * hd, c.hiddenSize, x1);
    const auto kFile = project(file.readFloat32(*file.findTensor("blk.0.attn_k.weight")),
                               c.numKvHeads * hd, c.hiddenSize, x2);
    const auto qHf = at::mv(b.model->linear(qb::layerName(0, "self_attn.q_proj")).denseWeight()
                                .to(at::kDouble), x1);
    const auto kHf = at::mv(b.model->linear(qb::layerName(0, "self_attn.k_proj")).denseWeight()
                                .to(at::kDouble), x2);
    const int64_t pq = 5, pk = 2;
    auto theta = [&](int64_t i) { return std::pow(c.ropeTheta, -2.0 * double(i) / double(hd)); };
    // HF: rotate-half, pairs (i, i + hd/2).
    auto ropeHf = [&](const double *v, int64_t p, std::vector<double> &out) {
        for (int64_t i = 0; i < hd / 2; ++i) {
            const double a = v[i], bb = v[i + hd / 2], t = double(p) * theta(i);
            out[i] = a * std::cos(t) - bb * std::sin(t);
            out[i + hd / 2] = bb * std::cos(t) + a * std::sin(t);
        }
    };
    // GGML's normal rotary (rope mode 0): adjacent pairs (2i, 2i + 1).
    auto ropeGgml = [&](const double *v, int64_t p, std::vector<double> &out) {
        for (int64_t i = 0; i < hd / 2; ++i) {
            const double a = v[2 * i], bb = v[2 * i + 1], t = double(p) * theta(i);
            out[2 * i] = a * std::cos(t) - bb * std::sin(t);
            out[2 * i + 1] = a * std::sin(t) + bb * std::cos(t);
        }
    };
    auto score = [&](auto rope, const at::Tensor &q, const at::Tensor &k, int64_t h) {
        std::vector<double> qr(hd), kr(hd);
        rope(q.data_ptr<double>() + h * hd, pq, qr);
        rope(k.data_ptr<double>() + (h / groups) * hd, pk, kr);
        double s = 0;
        for (int64_t i = 0; i < hd; ++i)
            s += qr[i] * kr[i];
        return s;
    };
    RopeCheck r;
    r.maxDiff = r.maxDiffUnpermuted = 0;
    for (int64_t h = 0; h < c.numHeads; ++h) {
        const double ref = score(ropeHf, qHf, kHf, h);
        r.maxScore = std::max(r.maxScore, std::fabs(ref));
        r.maxDiff = std::max(r.maxDiff, std::fabs(score(ropeGgml, qFile, kFile, h) - ref));
        r.maxDiffUnpermuted
            = std::max(r.maxDiffUnpermuted, std::fabs(score(ropeGgml, qHf, kHf, h) - ref));
    }
    return r;
}

std::string builtinRoundTrip(const std::string &src, const std::string &dir,
                             const std::string &type)
{
    at::NoGradGuard noGrad;
    const auto base = qb::loadModelBundle(src);
    const fs::path path = fs::path(dir) / ("builtin-" + type + ".gguf");
    exportTo(base, path, type, qb::readTextFile(fs::path(src) / "tokenizer.json"));
    const auto imported = qb::loadModelBundle(path);
    const std::string text
        = "Tom has 12 apples. He buys 7 more apples.\nHow many apples does he have?";
    const auto a = base.codec->encode(text), b = imported.codec->encode(text);
    if (a != b || a.empty())
        return "codec encodes differently";
    if (imported.codec->decode(b) != base.codec->decode(a))
        return "codec decodes differently";
    if (imported.model->config().eosTokenIds != base.model->config().eosTokenIds)
        return "eos ids differ";
    if (type == "f32") {
        const auto ids = at::tensor(a, at::kLong).unsqueeze(0);
        const double d
            = (base.model->forward(ids) - imported.model->forward(ids)).abs().max().item<double>();
        if (d != 0.0)
            return "logits differ by " + std::to_string(d);
    }
    return "";
}

std::string tokenizerExport(const std::string &tokenizerPath, const std::string &modelType,
                            const std::string &path)
{
    at::NoGradGuard noGrad;
    const std::string json = qb::readTextFile(tokenizerPath);
    const auto codec = qb::tokenizerCodec(qb::Tokenizer::fromFile(tokenizerPath));
    qb::ModelConfig c = tinyConfig(modelType, true);
    c.vocabSize = qb::Tokenizer::fromFile(tokenizerPath).vocabSize() + 7;
    c.hiddenSize = 32;
    c.numLayers = 1;
    c.numHeads = 2;
    c.numKvHeads = 1;
    c.intermediateSize = 64;
    qb::ModelBundle b;
    b.model = std::make_unique<qb::Transformer>(c);
    b.model->initRandom(3, 0.1);
    exportTo(b, path, "f32", json);
    const auto imported = qb::loadModelBundle(path);
    const std::string text = "Natalia sold 48 clips in April, and half as many in May.\n";
    if (imported.codec->encode(text) != codec->encode(text))
        return "codec encodes differently";
    return "";
}

std::vector<long long> ropeRowOrder(long long heads, long long headDim)
{
    const auto order = qb::ggufRopeRowOrder(heads, headDim);
    return {order.begin(), order.end()};
}

double quantizedSourceRequantized(const std::string &dir)
{
    at::NoGradGuard noGrad;
    auto b = tinyBundle("llama", false, 41);
    const std::string name = qb::layerName(0, "self_attn.q_proj");
    qb::kernels::IntGroupConfig cfg;
    cfg.bits = 4;
    cfg.group_size = 32;
    cfg.symmetric = false;
    auto &op = b.model->linear(name);
    b.model->setLinear(name, qb::IntGroupLinear::quantize(op.denseWeight(), op.bias(), cfg));
    const fs::path path = fs::path(dir) / "from-int4.gguf";
    exportTo(b, path, "q8_0");
    const auto imported = qb::loadModelBundle(path);
    const at::Tensor expected = blockRoundTrip(b.model->linear(name).denseWeight(), "q8_0");
    return (imported.model->linear(name).denseWeight() - expected).abs().max().item<double>();
}

std::string importError(const std::string &path)
{
    try {
        qb::loadModelBundle(path);
    } catch (const qb::Error &e) {
        return e.what();
    }
    return "";
}

} // namespace gguf_probe
