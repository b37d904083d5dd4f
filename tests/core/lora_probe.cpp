#include "lora_probe.h"

#include "io/safetensors.h"
#include "model/model_config.h"
#include "quant/int_group_linear.h"
#include "quant/quant_checkpoint.h"
#include "quant/quantize_model.h"
#include "train/adamw.h"
#include "train/fake_quant.h"
#include "train/lora.h"
#include "util/error.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;

namespace qbprobe {

namespace {

Mat vec(const at::Tensor &t)
{
    auto c = t.detach().to(at::kFloat).contiguous();
    return Mat(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

at::Tensor tensor(const Mat &m, int64_t rows, int64_t cols)
{
    return at::from_blob(const_cast<float *>(m.data()), {rows, cols}, at::kFloat).clone();
}

at::Tensor randn(std::vector<int64_t> shape, uint64_t seed, double std)
{
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    return at::empty(shape, at::kFloat).normal_(0.0, std, gen);
}

std::unique_ptr<qb::Transformer> tinyModel(const std::string &modelJson)
{
    auto m = std::make_unique<qb::Transformer>(
        qb::ModelConfig::fromJson(nlohmann::json::parse(modelJson), "probe"));
    m->initRandom(11, 0.08);
    return m;
}

at::Tensor ids()
{
    return at::tensor(std::vector<int64_t>{3, 14, 15, 9, 26, 5, 35, 8, 9, 7}, at::kLong)
        .reshape({1, -1});
}

void quantize(qb::Transformer &model, const std::string &specJson)
{
    qb::QuantSpec spec;
    spec.method = qb::MethodSpec::fromJson(nlohmann::json::parse(specJson), "probe");
    qb::quantizeModel(model, spec, {});
}

// Random non-zero A and B in every LoRA layer (a trained adapter's stand-in).
void randomizeAdapters(qb::Transformer &model, uint64_t seed)
{
    at::NoGradGuard noGrad;
    for (auto &[name, l] : qb::loraLayers(model)) {
        l->loraA().copy_(randn(l->loraA().sizes().vec(), seed++, 0.3));
        l->loraB().copy_(randn(l->loraB().sizes().vec(), seed++, 0.3));
    }
}

Mat logits(qb::Transformer &model)
{
    at::NoGradGuard noGrad;
    return vec(model.forward(ids()));
}

} // namespace

Mat loraForward(const Mat &w, int out, int in, const Mat &a, const Mat &b, int r, double alpha,
                bool rslora, const Mat &x, int tokens)
{
    qb::LoraConfig cfg;
    cfg.rank = r;
    cfg.alpha = alpha;
    cfg.rslora = rslora;
    auto gen = at::make_generator<at::CPUGeneratorImpl>(1);
    qb::LoraLinear op(std::make_shared<qb::DenseLinear>(tensor(w, out, in)), cfg, gen);
    at::NoGradGuard noGrad;
    op.loraA().copy_(tensor(a, r, in));
    op.loraB().copy_(tensor(b, out, r));
    return vec(op.forward(tensor(x, tokens, in)));
}

double adapterChangesAreSeen()
{
    qb::LoraConfig cfg;
    cfg.rank = 4;
    auto gen = at::make_generator<at::CPUGeneratorImpl>(2);
    const at::Tensor w = randn({40, 64}, 11, 1.0);
    qb::LoraLinear op(std::make_shared<qb::DenseLinear>(w), cfg, gen);
    at::NoGradGuard noGrad;
    op.loraB().copy_(randn({40, 4}, 12, 1.0));
    const at::Tensor x = randn({24, 64}, 13, 1.0);
    auto deviation = [&] {
        const at::Tensor want = at::matmul(x, w.t())
            + at::matmul(at::matmul(x, op.loraA().t()), op.loraB().t()) * cfg.scale();
        return (op.forward(x) - want).abs().max().item<double>();
    };
    double worst = deviation();
    op.loraB().mul_(2.0f);
    worst = std::max(worst, deviation());
    op.loraA() = randn({4, 64}, 14, 1.0);
    return std::max(worst, deviation());
}

bool zeroAdapterIsBase(const std::string &specJson)
{
    const auto spec = qb::MethodSpec::fromJson(nlohmann::json::parse(specJson), "probe");
    auto base = qb::quantizeLinear(qb::DenseLinear(randn({48, 64}, 3, 1.0)), spec, nullptr, "p");
    auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
    qb::LoraLinear op(base, qb::LoraConfig{}, gen);
    at::NoGradGuard noGrad;
    bool same = true;
    for (int64_t tokens : {1, 5, 40}) { // the fused (few rows) and the reference path
        const auto x = randn({tokens, 64}, 9 + tokens, 1.0);
        same &= at::equal(op.forward(x), base->forward(x));
    }
    return same;
}

GradRun gradientsOverInt4()
{
    GradRun r;
    r.out = 24, r.in = 64, r.groupSize = 32, r.tokens = 3;
    qb::kernels::IntGroupConfig cfg{4, 32, false};
    auto base = qb::IntGroupLinear::quantize(randn({r.out, r.in}, 21, 1.0), {}, cfg);
    const auto before = base->tensors();
    std::map<std::string, at::Tensor> saved;
    for (const auto &[k, t] : before)
        saved[k] = t.clone();
    auto gen = at::make_generator<at::CPUGeneratorImpl>(4);
    qb::LoraLinear op(base, qb::LoraConfig{}, gen);
    const at::Tensor b0 = op.loraB().detach().clone();
    auto x = randn({r.tokens, r.in}, 22, 1.0).set_requires_grad(true);
    op.forward(x).sum().backward();
    r.aGrad = op.loraA().grad().defined();
    r.bGrad = op.loraB().grad().defined();
    r.xGrad = x.grad().defined();
    if (r.xGrad)
        r.xGradient = vec(x.grad());
    for (const auto &[k, t] : base->tensors())
        r.baseGrad |= t.requires_grad() || t.grad().defined();
    qb::AdamW opt(op.trainableParameters(), {true, true}, {});
    opt.step(1e-2);
    r.bChanged = !at::equal(op.loraB().detach(), b0);
    r.packedUnchanged = true;
    for (const auto &[k, t] : base->tensors())
        r.packedUnchanged &= at::equal(t, saved.at(k));
    auto u8 = [](const at::Tensor &t) {
        return std::vector<uint8_t>(t.data_ptr<uint8_t>(), t.data_ptr<uint8_t>() + t.numel());
    };
    r.packed = u8(before.at("qweight"));
    r.zeros = u8(before.at("qzeros"));
    r.scales = vec(before.at("scales"));
    return r;
}

void kaimingStats(int r, int in, uint64_t seed, double &maxAbs, double &variance)
{
    qb::LoraConfig cfg;
    cfg.rank = r;
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    qb::LoraLinear op(std::make_shared<qb::DenseLinear>(at::zeros({4, in})), cfg, gen);
    const auto a = op.loraA().detach().to(at::kDouble);
    maxAbs = a.abs().max().item<double>();
    variance = a.var().item<double>();
}

void steInt4(const Mat &w, int out, int in, int group, const Mat &scales, Mat &values, Mat &grad,
             Mat &scaleGrad)
{
    auto wt = tensor(w, out, in).set_requires_grad(true);
    at::Tensor s = tensor(scales, out, in / group).set_requires_grad(true);
    const auto spec = qb::MethodSpec::fromJson(
        {{"method", "int"}, {"bits", 4}, {"group_size", group}, {"symmetric", true}}, "probe");
    auto fq = qb::fakeQuantize(wt, spec, &s);
    fq.sum().backward();
    values = vec(fq);
    grad = vec(wt.grad());
    scaleGrad = vec(s.grad());
}

PeftRun peftRoundTrip(const std::string &modelJson, const std::vector<std::string> &targets,
                      const std::string &dir)
{
    PeftRun r;
    auto model = tinyModel(modelJson);
    qb::LoraConfig cfg;
    cfg.rank = 4;
    cfg.alpha = 8;
    cfg.targets = targets;
    qb::applyLora(*model, cfg, 17);
    randomizeAdapters(*model, 100);
    r.adapted = logits(*model);
    qb::saveLoraAdapter(*model, cfg, dir, "/models/tiny");
    const auto file = qb::io::SafetensorsFile::open(fs::path(dir) / "adapter_model.safetensors");
    for (const auto &t : file.tensors())
        r.tensorNames.push_back(t.name);
    std::sort(r.tensorNames.begin(), r.tensorNames.end());
    std::ifstream in(fs::path(dir) / "adapter_config.json");
    r.configJson.assign(std::istreambuf_iterator<char>(in), {});
    auto fresh = tinyModel(modelJson);
    qb::loadLoraAdapter(*fresh, dir);
    r.loaded = logits(*fresh);
    return r;
}

std::string loadCorrupted(const std::string &modelJson, const std::string &dir,
                          const std::string &mode, bool &unchanged)
{
    const fs::path st = fs::path(dir) / "adapter_model.safetensors";
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    {
        const auto file = qb::io::SafetensorsFile::open(st);
        for (const auto &info : file.tensors()) {
            auto v = file.readFloat32(info);
            tensors.emplace_back(info.name, at::from_blob(v.data(), info.shape, at::kFloat).clone());
        }
    }
    const std::string first = "base_model.model.model.layers.0.self_attn.q_proj";
    std::vector<std::pair<std::string, at::Tensor>> out;
    for (auto &[name, t] : tensors) {
        if (mode == "missing_b" && name == first + ".lora_B.weight")
            continue;
        if (mode == "wrong_shape" && name == first + ".lora_A.weight")
            t = t.narrow(1, 0, t.size(1) - 1).contiguous();
        if (mode == "rank_mismatch")
            t = name.find("lora_A") != std::string::npos ? t.narrow(0, 0, 2).contiguous()
                                                         : t.narrow(1, 0, 2).contiguous();
        out.emplace_back(name, t);
    }
    if (mode == "unknown_module")
        out.emplace_back("base_model.model.model.layers.0.self_attn.qkv_proj.lora_A.weight",
                         at::zeros({4, 64}));
    std::vector<qb::io::TensorWrite> writes;
    for (const auto &[name, t] : out)
        writes.push_back({name, qb::io::DType::F32, t.sizes().vec(), t.data_ptr(),
                          static_cast<size_t>(t.numel()) * 4});
    qb::io::writeSafetensors(st, writes);

    auto model = tinyModel(modelJson);
    const Mat before = logits(*model);
    std::string message;
    try {
        qb::loadLoraAdapter(*model, dir);
    } catch (const qb::Error &e) {
        message = e.what();
    }
    unchanged = logits(*model) == before && qb::loraLayers(*model).empty();
    return message;
}

MergeRun mergeRun(const std::string &modelJson, const std::string &specJson, bool quantized)
{
    MergeRun r;
    auto model = tinyModel(modelJson);
    if (!specJson.empty())
        quantize(*model, specJson);
    qb::LoraConfig cfg;
    qb::applyLora(*model, cfg, 3);
    randomizeAdapters(*model, 40);
    r.adapted = logits(*model);
    if (quantized) {
        for (const auto &e : qb::mergeLoraQuantized(*model))
            r.relErrors.push_back(e.relError);
    } else {
        qb::mergeLoraDense(*model);
    }
    r.merged = logits(*model);
    return r;
}

QaRun qaLoraRun(const std::string &modelJson, const std::string &dir)
{
    QaRun r;
    auto model = tinyModel(modelJson);
    quantize(*model, R"({"method": "int", "bits": 4, "group_size": 32, "symmetric": false})");
    const std::string probe = "model.layers.1.mlp.down_proj";
    const at::Tensor codes = dynamic_cast<qb::IntGroupLinear &>(model->linear(probe))
                                 .tensors()
                                 .at("qweight")
                                 .clone();
    qb::LoraConfig cfg;
    cfg.qaGroupSize = 32;
    qb::applyLora(*model, cfg, 8);
    randomizeAdapters(*model, 70);
    r.adapted = logits(*model);
    qb::mergeQaLora(*model);
    r.merged = logits(*model);
    auto &merged = dynamic_cast<qb::IntGroupLinear &>(model->linear(probe));
    r.codesUnchanged = at::equal(merged.tensors().at("qweight"), codes);
    r.hasRealZeros = merged.realZeros().defined();
    qb::saveQuantizedModel(*model, dir);
    auto loaded = qb::loadQuantizedModel(dir);
    r.reloaded = logits(*loaded);
    return r;
}

double finishQatDiff(const std::string &modelJson, const std::string &specJson, bool learnScale)
{
    auto model = tinyModel(modelJson);
    const auto spec = qb::MethodSpec::fromJson(nlohmann::json::parse(specJson), "probe");
    qb::applyQat(*model, spec, {"*.self_attn.*", "*.mlp.*"}, learnScale);
    std::vector<at::Tensor> params;
    for (const auto &n : model->linearNames())
        for (auto &t : model->linear(n).trainableParameters())
            params.push_back(t);
    for (int step = 0; step < 3; ++step) {
        for (auto &p : params)
            if (p.grad().defined())
                p.mutable_grad().zero_();
        model->forward(ids()).pow(2).mean().backward();
        at::NoGradGuard noGrad;
        for (auto &p : params)
            if (p.grad().defined())
                p.sub_(p.grad() * 0.05);
    }
    at::NoGradGuard noGrad;
    const at::Tensor before = model->forward(ids());
    double worst = 0;
    for (const auto &[name, diff] : qb::finishQat(*model))
        worst = std::max(worst, diff);
    // The packed model computes what the fake-quantized one did, activation quantization included.
    const at::Tensor after = model->forward(ids());
    const double logitDiff = (after - before).abs().max().item<double>()
        / std::max(before.abs().max().item<double>(), 1e-30);
    return std::max(worst, logitDiff);
}

} // namespace qbprobe
