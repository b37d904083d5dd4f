#include "core/hf_quant_probe.h"

#include "io/safetensors.h"
#include "model/model_bundle.h"
#include "quant/gptq.h"
#include "quant/hf_quant_export.h"
#include "quant/hf_quant_pack.h"
#include "quant/nf4_linear.h"
#include "util/error.h"
#include "util/files.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>

namespace fs = std::filesystem;

namespace qbprobe {

namespace {

at::Tensor ints(const std::vector<int32_t> &v, int64_t rows, int64_t cols)
{
    return at::from_blob(const_cast<int32_t *>(v.data()), {rows, cols}, at::kInt).clone();
}

std::vector<int32_t> vec(const at::Tensor &t)
{
    auto c = t.contiguous();
    return {c.data_ptr<int32_t>(), c.data_ptr<int32_t>() + c.numel()};
}

struct Variant
{
    std::string format = "gptq";
    std::string method = "gptq"; // how the layers are made: gptq, awq (shared scales), int (RTN)
    int bits = 4;
    int groupSize = 32; // 0 = per channel
    bool symmetric = false;
    bool actOrder = false;
    int64_t kvHeads = 2;
};

Variant parse(const std::string &name)
{
    Variant v;
    if (name == "gptq4-g32") {
    } else if (name == "gptq4-g32-act") {
        v.actOrder = true;
    } else if (name == "gptq4-pc") {
        v.groupSize = 0;
    } else if (name == "gptq4-pc-act") {
        v.groupSize = 0;
        v.actOrder = true;
    } else if (name == "gptq3-g32-act") {
        v.bits = 3;
        v.actOrder = true;
    } else if (name == "gptq2-g32") {
        v.bits = 2;
    } else if (name == "gptq8-pc") {
        v.bits = 8;
        v.groupSize = 0;
    } else if (name == "gptq4-g32-sym") {
        v.symmetric = true;
        v.actOrder = true;
    } else if (name == "awq4-g32") {
        v.format = v.method = "awq";
        v.kvHeads = 4;
    } else if (name == "int4-g32-awq") {
        v.format = "awq";
        v.method = "int";
    } else {
        throw std::runtime_error("hf_quant_probe: unknown variant " + name);
    }
    return v;
}

// Qwen2-style (q/k/v bias) tiny model with random norms and biases, deterministic.
std::unique_ptr<qb::Transformer> tinyModel(int64_t kvHeads, int64_t intermediate = 128)
{
    qb::ModelConfig c;
    c.modelType = "qwen2";
    c.vocabSize = 96;
    c.hiddenSize = 64;
    c.intermediateSize = intermediate;
    c.numLayers = 2;
    c.numHeads = 4;
    c.numKvHeads = kvHeads;
    c.headDim = 16;
    c.maxPositions = 64;
    c.qkvBias = true;
    auto m = std::make_unique<qb::Transformer>(c);
    m->initRandom(11, 0.1);
    auto gen = at::make_generator<at::CPUGeneratorImpl>(12);
    at::NoGradGuard noGrad;
    for (auto &[name, t] : m->tensors())
        if (name.find("norm") != std::string::npos)
            t.copy_(1.0 + 0.2 * at::randn(t.sizes(), gen));
    for (const auto &name : m->linearNames())
        if (auto b = m->linear(name).bias(); b.defined())
            b.copy_(0.05 * at::randn(b.sizes(), gen));
    return m;
}

// Calibration rows with unequal, correlated channels (so act-order reorders columns).
at::Tensor calibration(int64_t in, uint64_t seed)
{
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    auto mix = at::eye(in) + 0.3 * at::randn({in, in}, gen);
    auto x = at::randn({256, in}, gen).matmul(mix);
    return x * at::exp(at::randn({1, in}, gen));
}

void quantize(qb::Transformer &m, const Variant &v)
{
    qb::kernels::IntGroupConfig q{v.bits, v.groupSize, v.symmetric};
    auto gen = at::make_generator<at::CPUGeneratorImpl>(21);
    std::map<std::string, at::Tensor> shared; // AWQ: one input scale per norm-fed group
    uint64_t seed = 100;
    for (const auto &name : m.linearNames()) {
        if (name == "lm_head")
            continue;
        const auto &op = m.linear(name);
        const auto w = op.denseWeight();
        const auto b = op.bias();
        std::shared_ptr<qb::IntGroupLinear> out;
        if (v.method == "gptq") {
            qb::GptqConfig cfg;
            cfg.quant = q;
            cfg.actOrder = v.actOrder;
            const auto h = qb::gptqHessian(calibration(w.size(1), ++seed));
            out = qb::gptqLinear(qb::gptqQuantize(w, h, cfg), q, b);
        } else if (v.method == "int") {
            out = qb::IntGroupLinear::quantize(w, b, q);
        } else {
            // AutoAWQ-style: q/k/v share one scale, gate/up share one, o and down their own.
            std::string key = name;
            for (const char *g : {"q_proj", "k_proj", "v_proj"})
                if (name.find(g) != std::string::npos)
                    key = name.substr(0, name.find(g)) + "qkv";
            for (const char *g : {"gate_proj", "up_proj"})
                if (name.find(g) != std::string::npos)
                    key = name.substr(0, name.find(g)) + "gate_up";
            if (!shared.count(key))
                shared[key] = at::exp(0.5 * at::randn({w.size(1)}, gen));
            const auto &s = shared[key];
            out = qb::IntGroupLinear::quantize(w * s.unsqueeze(0), b, q);
            out->setInputScale(s.clone());
            out->setMethod("awq");
        }
        m.setLinear(name, out);
    }
}

double maxAbs(const at::Tensor &t) { return t.abs().max().item<double>(); }

at::Tensor ids()
{
    return at::arange(0, 24, at::kLong).mul(7).remainder(96).reshape({2, 12});
}

// The HF dequantization written out plainly from the file's int32 words (transformers' docs /
// AutoGPTQ's torch path: w = scale[g][o] * (q - z), GPTQ v1 z = stored + 1; AWQ nibble order).
at::Tensor naiveDequant(const qb::io::Checkpoint &ckpt, const std::string &name,
                        const std::string &format, int bits, int64_t groupSize, int64_t out,
                        int64_t in)
{
    auto raw = [&](const std::string &t) {
        const auto *info = ckpt.find(name + "." + t);
        std::vector<uint32_t> v(info->nbytes() / 4);
        std::memcpy(v.data(), ckpt.fileOf(name + "." + t)->data(*info), info->nbytes());
        return v;
    };
    const auto qweight = raw("qweight"), qzeros = raw("qzeros");
    const auto scales = ckpt.readFloat32(name + ".scales"); // [G, out]
    const int64_t gs = groupSize > 0 ? groupSize : in;
    auto w = at::empty({out, in}, at::kFloat);
    float *W = w.data_ptr<float>();
    if (format == "gptq") {
        const auto gIdx = raw("g_idx");
        const int64_t zcols = out * bits / 32;
        // A b-bit field at bit position p of a column of words, read through a 64-bit window so
        // that the 3-bit fields that straddle two words come out whole.
        auto field = [&](const std::vector<uint32_t> &words, int64_t stride, int64_t col,
                         int64_t index, int64_t nWords) {
            const int64_t p = index * bits;
            const int64_t wi = p / 32;
            uint64_t window = words[wi * stride + col];
            if (wi + 1 < nWords)
                window |= static_cast<uint64_t>(words[(wi + 1) * stride + col]) << 32;
            return static_cast<int64_t>((window >> (p % 32)) & ((1u << bits) - 1));
        };
        // qzeros [G, zcols] packs along out: transpose view via index arithmetic.
        std::vector<uint32_t> zt(qzeros.size()); // [zcols, G]
        const int64_t groups = static_cast<int64_t>(qzeros.size()) / zcols;
        for (int64_t g = 0; g < groups; ++g)
            for (int64_t c = 0; c < zcols; ++c)
                zt[c * groups + g] = qzeros[g * zcols + c];
        for (int64_t o = 0; o < out; ++o)
            for (int64_t i = 0; i < in; ++i) {
                const int64_t g = gIdx[i];
                const int64_t q = field(qweight, out, o, i, in * bits / 32);
                const int64_t z = field(zt, groups, g, o, zcols) + 1;
                W[o * in + i] = scales[g * out + o] * static_cast<float>(q - z);
            }
    } else {
        const int rev[8] = {0, 4, 1, 5, 2, 6, 3, 7}; // column 8c + k sits in nibble rev[k]
        for (int64_t o = 0; o < out; ++o)
            for (int64_t i = 0; i < in; ++i) {
                const int64_t g = i / gs;
                const int64_t shift = 4 * rev[o % 8];
                const int64_t q = (qweight[i * (out / 8) + o / 8] >> shift) & 15;
                const int64_t z = (qzeros[g * (out / 8) + o / 8] >> shift) & 15;
                W[o * in + i] = scales[g * out + o] * static_cast<float>(q - z);
            }
    }
    return w;
}

} // namespace

std::vector<int32_t> hfPackGptq(const std::vector<int32_t> &values, int64_t rows, int64_t cols,
                                int bits)
{
    return vec(qb::hfq::packGptqRows(ints(values, rows, cols), bits));
}

std::vector<int32_t> hfUnpackGptq(const std::vector<int32_t> &packed, int64_t rows, int64_t cols,
                                  int bits)
{
    return vec(qb::hfq::unpackGptqRows(ints(packed, rows * bits / 32, cols), bits, rows));
}

std::vector<int32_t> hfPackAwq(const std::vector<int32_t> &values, int64_t rows, int64_t cols)
{
    return vec(qb::hfq::packAwqCols(ints(values, rows, cols)));
}

std::vector<int32_t> hfUnpackAwq(const std::vector<int32_t> &packed, int64_t rows, int64_t cols)
{
    return vec(qb::hfq::unpackAwqCols(ints(packed, rows, cols / 8)));
}

HfRoundTrip hfRoundTrip(const std::string &variantName, const std::string &dirText)
{
    const fs::path dir = dirText;
    const Variant v = parse(variantName);
    HfRoundTrip r;
    auto model = tinyModel(v.kvHeads);
    quantize(*model, v);
    at::NoGradGuard noGrad;
    const auto logits = model->forward(ids());
    qb::HfExportReport rep;
    try {
        qb::HfExportOptions o;
        o.format = v.format;
        o.denseF16 = false; // isolates the float16 rounding of the scales
        rep = qb::exportHfQuantized(*model, dir, o);
    } catch (const qb::Error &e) {
        r.error = e.what();
        return r;
    }
    r.quantizationConfig = rep.quantizationConfig.dump();
    r.quantizedLayers = rep.quantizedLayers;
    r.folds = static_cast<int64_t>(rep.folds.size());
    r.maxScaleRelChange = rep.maxScaleRelChange;
    qb::ModelBundle b;
    try {
        b = qb::loadModelBundle(dir);
    } catch (const qb::Error &e) {
        r.error = e.what();
        return r;
    }
    r.provenanceFormat = b.provenance.format;
    r.loadedKind = b.model->linear("model.layers.0.self_attn.q_proj").kind();
    const auto loadedLogits = b.model->forward(ids());
    r.maxLogitDiff = maxAbs(loadedLogits - logits);
    r.maxLogitAbs = maxAbs(logits);

    // The in-memory model with float16-rounded scales (unfolded variants only).
    const bool folded = r.folds > 0;
    r.codesEqual = true;
    r.permKept = true;
    auto ref = tinyModel(v.kvHeads);
    const auto ckpt = qb::io::Checkpoint::open(dir);
    for (const auto &name : model->linearNames()) {
        if (name == "lm_head")
            continue;
        const auto mem = std::dynamic_pointer_cast<qb::IntGroupLinear>(model->linearPtr(name));
        const auto got = std::dynamic_pointer_cast<qb::IntGroupLinear>(b.model->linearPtr(name));
        if (!got) {
            r.error = name + " did not load as an IntGroupLinear";
            return r;
        }
        const auto a = qb::hfq::fromIntGroup(*mem, name);
        const auto c = qb::hfq::fromIntGroup(*got, name);
        r.codesEqual = r.codesEqual && at::equal(a.codes, c.codes) && at::equal(a.zeros, c.zeros)
            && at::equal(a.gIdx, c.gIdx);
        if (mem->permutation().defined() && v.groupSize > 0)
            r.permKept = r.permKept && got->permutation().defined();
        const auto wMem = mem->dequantizedWeight(), wGot = got->dequantizedWeight();
        if (!folded) {
            const auto nz = wMem.ne(0);
            if (nz.any().item<bool>())
                r.maxWeightRelChange = std::max(
                    r.maxWeightRelChange,
                    ((wGot - wMem).abs() / wMem.abs()).masked_select(nz).max().item<double>());
            auto l = a;
            l.scales = l.scales.to(at::kHalf).to(at::kFloat);
            ref->setLinear(name, qb::hfq::toIntGroup(l, "gptq", name));
        }
        const int64_t gs = v.groupSize > 0 ? v.groupSize : -1;
        const auto naive = naiveDequant(ckpt, name, v.format, v.bits, gs, got->outFeatures(),
                                        got->inFeatures());
        r.naiveVsLoaded = std::max(r.naiveVsLoaded, maxAbs(naive - wGot));
        r.naiveMaxAbs = std::max(r.naiveMaxAbs, maxAbs(naive));
    }
    if (!folded) {
        for (auto &[name, t] : ref->tensors())
            t.copy_(model->tensors().at(name));
        ref->setLinear("lm_head", model->linearPtr("lm_head"));
        r.maxLogitDiffFp16Ref = maxAbs(ref->forward(ids()) - loadedLogits);
    } else {
        r.maxLogitDiffFp16Ref = -1;
    }
    return r;
}

std::string hfExportError(const std::string &variant, const std::string &dir)
{
    std::unique_ptr<qb::Transformer> m;
    std::string format = "gptq";
    try {
        if (variant == "nf4") {
            m = tinyModel(2);
            quantize(*m, parse("int4-g32-awq"));
            const auto &op = m->linear("model.layers.1.mlp.up_proj");
            m->setLinear("model.layers.1.mlp.up_proj",
                         qb::Nf4Linear::quantize(op.denseWeight(), op.bias(),
                                                  qb::kernels::Codebook4::Nf4, 64, false));
        } else if (variant == "awq-gqa") {
            m = tinyModel(2);
            quantize(*m, parse("awq4-g32"));
            format = "awq";
        } else if (variant == "awq-qkv-differ") {
            m = tinyModel(4);
            quantize(*m, parse("awq4-g32"));
            auto k = std::dynamic_pointer_cast<qb::IntGroupLinear>(
                m->linearPtr("model.layers.0.self_attn.k_proj"));
            k->setInputScale(k->inputScale() * 1.5);
            format = "awq";
        } else if (variant == "gptq-odd-shape") {
            m = tinyModel(2, 80);
            quantize(*m, parse("int4-g32-awq"));
        } else if (variant == "awq-3bit") {
            m = tinyModel(4);
            Variant v = parse("int4-g32-awq");
            v.bits = 3;
            quantize(*m, v);
            format = "awq";
        } else if (variant == "mixed-bits") {
            m = tinyModel(2);
            quantize(*m, parse("int4-g32-awq"));
            const auto &op = m->linear("model.layers.1.mlp.down_proj");
            m->setLinear("model.layers.1.mlp.down_proj",
                         qb::IntGroupLinear::quantize(op.denseWeight(), op.bias(), {8, 0, false}));
        } else if (variant == "gptq-zero0" || variant == "awq-zero0") {
            m = tinyModel(2);
            quantize(*m, parse("int4-g32-awq"));
            const auto &op = m->linear("model.layers.0.self_attn.q_proj");
            // Nonnegative weights: the range starts at 0, so every zero point is 0.
            m->setLinear("model.layers.0.self_attn.q_proj",
                         qb::IntGroupLinear::quantize(op.denseWeight().abs(), op.bias(),
                                                      {4, 32, false}));
            format = variant == "awq-zero0" ? "awq" : "gptq";
        } else {
            return "unknown variant";
        }
        qb::HfExportOptions o;
        o.format = format;
        qb::exportHfQuantized(*m, dir, o);
    } catch (const qb::Error &e) {
        return e.what();
    }
    return "";
}

double hfLegacyConfigLogitDiff(const std::string &variant, const std::string &dirText,
                               std::string *error)
{
    const fs::path dir = dirText;
    const Variant v = parse(variant);
    auto m = tinyModel(v.kvHeads);
    quantize(*m, v);
    qb::HfExportOptions o;
    o.format = v.format;
    qb::exportHfQuantized(*m, dir / "hf", o);
    fs::create_directories(dir / "legacy");
    fs::copy_file(dir / "hf" / "model.safetensors", dir / "legacy" / "model.safetensors");
    auto config = nlohmann::json::parse(qb::readTextFile(dir / "hf" / "config.json"));
    auto qc = config["quantization_config"];
    config.erase("quantization_config");
    qb::writeFileAtomic(dir / "legacy" / "config.json", config.dump(2));
    if (v.format == "gptq") {
        qc.erase("quant_method");
        qb::writeFileAtomic(dir / "legacy" / "quantize_config.json", qc.dump(2));
    } else {
        const nlohmann::json awq = {{"zero_point", true},
                                    {"q_group_size", qc["group_size"]},
                                    {"w_bit", qc["bits"]},
                                    {"version", "GEMM"}};
        qb::writeFileAtomic(dir / "legacy" / "quant_config.json", awq.dump(2));
    }
    try {
        at::NoGradGuard noGrad;
        const auto a = qb::loadModelBundle(dir / "hf");
        const auto b = qb::loadModelBundle(dir / "legacy");
        return maxAbs(a.model->forward(ids()) - b.model->forward(ids()));
    } catch (const qb::Error &e) {
        *error = e.what();
        return -1;
    }
}

double hfSymmetricFullRange(int bits, bool *symmetric)
{
    const int64_t out = 64, in = 96, gs = 32;
    auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
    qb::hfq::HfLinear l;
    l.bits = bits;
    l.groupSize = gs;
    l.codes = at::randint(0, 1 << bits, {out, in}, gen, at::kInt);
    l.codes.index_put_({0, 0}, 0); // the code the symmetric quantizer here never makes
    l.zeros = at::full({out, in / gs}, 1 << (bits - 1), at::kInt);
    l.scales = at::rand({out, in / gs}, gen) * 0.1 + 0.01;
    l.gIdx = at::arange(in, at::kInt).div(gs, "floor").to(at::kInt);
    const auto op = qb::hfq::toIntGroup(l, "gptq", "probe");
    *symmetric = op->intConfig().symmetric;
    // The HF formula: (q - z) * s per element.
    auto w = at::empty({out, in}, at::kFloat);
    for (int64_t o = 0; o < out; ++o)
        for (int64_t i = 0; i < in; ++i)
            w[o][i] = (l.codes[o][i].item<int>() - (1 << (bits - 1)))
                * l.scales[o][i / gs].item<float>();
    double worst = 0;
    at::NoGradGuard noGrad;
    for (int64_t rows : {1, 40}) {
        const auto x = at::randn({rows, in}, gen);
        worst = std::max(worst, maxAbs(op->forward(x) - x.matmul(w.t())));
    }
    return worst;
}

double hfGptqV2Shift(const std::string &dirText)
{
    const fs::path dir = dirText;
    auto m = tinyModel(2);
    quantize(*m, parse("gptq4-g32"));
    qb::HfExportOptions o;
    qb::exportHfQuantized(*m, dir / "hf", o);
    fs::create_directories(dir / "v2");
    fs::copy_file(dir / "hf" / "model.safetensors", dir / "v2" / "model.safetensors");
    auto config = nlohmann::json::parse(qb::readTextFile(dir / "hf" / "config.json"));
    config["quantization_config"]["checkpoint_format"] = "gptq_v2";
    qb::writeFileAtomic(dir / "v2" / "config.json", config.dump(2));
    const auto a = qb::loadModelBundle(dir / "hf");
    const auto b = qb::loadModelBundle(dir / "v2");
    double worst = 0;
    for (const auto &name : a.model->linearNames()) {
        if (name == "lm_head")
            continue;
        const auto q = std::dynamic_pointer_cast<qb::IntGroupLinear>(a.model->linearPtr(name));
        const auto l = qb::hfq::fromIntGroup(*q, name);
        const auto groupScale = l.scales.index_select(1, l.gIdx.to(at::kLong));
        const auto shift
            = b.model->linear(name).denseWeight() - a.model->linear(name).denseWeight();
        worst = std::max(worst, maxAbs(shift - groupScale));
    }
    return worst;
}

std::string hfImportWrongBits(const std::string &dirText)
{
    const fs::path dir = dirText;
    auto m = tinyModel(2);
    quantize(*m, parse("int4-g32-awq"));
    qb::HfExportOptions o;
    o.format = "gptq";
    qb::exportHfQuantized(*m, dir, o);
    auto config = nlohmann::json::parse(qb::readTextFile(dir / "config.json"));
    config["quantization_config"]["bits"] = 8;
    qb::writeFileAtomic(dir / "config.json", config.dump(2));
    try {
        qb::loadModelBundle(dir);
    } catch (const qb::Error &e) {
        return e.what();
    }
    return "";
}

} // namespace qbprobe
