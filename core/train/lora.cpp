#include "train/lora.h"

#include "quant/int_group_linear.h"
#include "quant/method_registry.h"
#include "quant/quantize_model.h"
#include "util/error.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/csrc/autograd/custom_function.h>

#include <cmath>

using nlohmann::json;

namespace qb {

namespace {

struct BaseHolder : torch::CustomClassHolder
{
    std::shared_ptr<LinearOp> op;
};

// y = base(x) with grad_x = grad_y W (W the base's effective weight, decoded again in backward so
// no float copy outlives the forward) and nothing flowing into the base's own tensors.
class FrozenBase : public torch::autograd::Function<FrozenBase>
{
public:
    static at::Tensor forward(torch::autograd::AutogradContext *ctx, const at::Tensor &x,
                              const std::shared_ptr<LinearOp> &op)
    {
        auto holder = c10::make_intrusive<BaseHolder>();
        holder->op = op;
        ctx->saved_data["op"] = c10::IValue::make_capsule(std::move(holder));
        return op->forward(x);
    }

    static torch::autograd::variable_list backward(torch::autograd::AutogradContext *ctx,
                                                   torch::autograd::variable_list grads)
    {
        const auto holder
            = c10::static_intrusive_pointer_cast<BaseHolder>(ctx->saved_data["op"].toCapsule());
        at::NoGradGuard noGrad;
        return {at::matmul(grads[0], holder->op->denseWeight().detach()), at::Tensor()};
    }
};

double frobenius(const at::Tensor &t) { return t.norm().item<double>(); }

template <class T>
T readKey(const json &j, const std::string &key, T fallback, const std::string &where)
{
    if (!j.contains(key))
        return fallback;
    try {
        return j.at(key).get<T>();
    } catch (const json::exception &) {
        throw Error(where + ": " + key + " has the wrong type: " + j.at(key).dump());
    }
}

} // namespace

double LoraConfig::scale() const
{
    return rslora ? alpha / std::sqrt(static_cast<double>(rank)) : alpha / rank;
}

LoraConfig LoraConfig::fromJson(const json &j, const std::string &where)
{
    if (!j.is_object())
        throw Error(where + ": expected an object of LoRA settings, got " + j.dump());
    static const std::vector<std::string> known{"rank", "alpha", "dropout", "rslora", "targets",
                                                "qa_group_size"};
    for (auto it = j.begin(); it != j.end(); ++it)
        if (std::find(known.begin(), known.end(), it.key()) == known.end())
            throw Error(where + "." + it.key() + ": unknown LoRA setting");
    LoraConfig c;
    c.rank = readKey<int>(j, "rank", c.rank, where);
    c.alpha = readKey<double>(j, "alpha", c.alpha, where);
    c.dropout = readKey<double>(j, "dropout", c.dropout, where);
    c.rslora = readKey<bool>(j, "rslora", c.rslora, where);
    c.targets = readKey<std::vector<std::string>>(j, "targets", c.targets, where);
    c.qaGroupSize = readKey<int>(j, "qa_group_size", c.qaGroupSize, where);
    if (c.rank < 1)
        throw Error(where + ".rank: must be >= 1, got " + std::to_string(c.rank));
    if (!(c.dropout >= 0.0 && c.dropout < 1.0))
        throw Error(where + ".dropout: must be in [0, 1)");
    if (c.qaGroupSize < 0)
        throw Error(where + ".qa_group_size: must be >= 0 (0 = plain LoRA)");
    if (c.targets.empty())
        throw Error(where + ".targets: must name at least one pattern");
    return c;
}

LoraLinear::LoraLinear(std::shared_ptr<LinearOp> base, const LoraConfig &config,
                       at::Generator &gen)
    : m_base(std::move(base)), m_config(config)
{
    TORCH_CHECK(m_base && config.rank >= 1, "LoraLinear: needs a base op and rank >= 1");
    const int64_t in = m_base->inFeatures(), g = config.qaGroupSize;
    if (g > 0) {
        if (in % g != 0)
            throw Error("QA-LoRA: in_features " + std::to_string(in)
                        + " is not a multiple of qa_group_size " + std::to_string(g));
        if (auto *ig = dynamic_cast<const IntGroupLinear *>(m_base.get())) {
            const int64_t baseGroup = kernels::int_group_size(ig->intConfig(), in);
            if (baseGroup != g)
                throw Error("QA-LoRA: qa_group_size " + std::to_string(g)
                            + " differs from the base's quantization group "
                            + std::to_string(baseGroup));
        }
    }
    const int64_t inA = g > 0 ? in / g : in;
    // PEFT: kaiming_uniform_(a = sqrt(5)) -> U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    const double bound = 1.0 / std::sqrt(static_cast<double>(inA));
    at::NoGradGuard noGrad;
    m_a = at::empty({config.rank, inA}, at::kFloat).uniform_(-bound, bound, gen);
    m_b = at::zeros({m_base->outFeatures(), config.rank}, at::kFloat);
    m_a.set_requires_grad(true);
    m_b.set_requires_grad(true);
}

at::Tensor LoraLinear::forward(const at::Tensor &x)
{
    at::Tensor y;
    if (at::GradMode::is_enabled() && x.requires_grad()) {
        y = FrozenBase::apply(x, m_base);
    } else {
        at::NoGradGuard noGrad;
        y = m_base->forward(x);
    }
    at::Tensor h = x;
    if (m_training && m_config.dropout > 0.0)
        h = at::dropout(h, m_config.dropout, true);
    if (m_config.qaGroupSize > 0)
        h = h.unflatten(-1, {inFeatures() / m_config.qaGroupSize, m_config.qaGroupSize}).mean(-1);
    return y + adapterProduct(h) * m_config.scale();
}

at::Tensor LoraLinear::adapterProduct(const at::Tensor &h)
{
    if (!m_denseA || !m_denseA->weight().is_same(m_a))
        m_denseA = std::make_shared<DenseLinear>(m_a);
    if (!m_denseB || !m_denseB->weight().is_same(m_b))
        m_denseB = std::make_shared<DenseLinear>(m_b);
    return m_denseB->forward(m_denseA->forward(h));
}

int64_t LoraLinear::weightBytes() const
{
    return m_base->weightBytes() + (m_a.numel() + m_b.numel()) * 4;
}

at::Tensor LoraLinear::delta() const
{
    at::NoGradGuard noGrad;
    at::Tensor d = at::matmul(m_b, m_a) * m_config.scale();
    const int64_t g = m_config.qaGroupSize;
    return g > 0 ? d.repeat_interleave(g, 1) / static_cast<double>(g) : d;
}

at::Tensor LoraLinear::denseWeight() const
{
    at::NoGradGuard noGrad;
    return m_base->denseWeight().detach() + delta();
}

std::vector<std::string> selectTrainTargets(const Transformer &model,
                                            const std::vector<std::string> &patterns)
{
    const bool tied = model.config().tieWordEmbeddings;
    std::vector<std::string> names;
    for (const auto &name : model.linearNames()) {
        bool chosen = false;
        for (const auto &p : patterns)
            chosen |= name == "lm_head" ? !tied && p == "lm_head" : globMatch(p, name);
        if (chosen)
            names.push_back(name);
    }
    if (names.empty()) {
        std::string list;
        for (const auto &p : patterns)
            list += (list.empty() ? "" : ", ") + p;
        throw Error("targets [" + list + "] match no linear layer of the model");
    }
    return names;
}

std::vector<std::string> applyLora(Transformer &model, const LoraConfig &config, uint64_t seed)
{
    std::vector<std::string> names;
    try {
        names = selectTrainTargets(model, config.targets);
    } catch (const Error &e) {
        throw Error(std::string("LoRA ") + e.what());
    }
    for (const auto &name : names)
        if (dynamic_cast<LoraLinear *>(&model.linear(name)))
            throw Error("LoRA: " + name + " already has an adapter");
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    std::vector<std::shared_ptr<LoraLinear>> ops;
    for (const auto &name : names) {
        try {
            ops.push_back(std::make_shared<LoraLinear>(model.linearPtr(name), config, gen));
        } catch (const Error &e) {
            throw Error("LoRA: " + name + ": " + e.what());
        }
    }
    for (size_t i = 0; i < names.size(); ++i)
        model.setLinear(names[i], ops[i]);
    return names;
}

std::vector<std::pair<std::string, LoraLinear *>> loraLayers(Transformer &model)
{
    std::vector<std::pair<std::string, LoraLinear *>> out;
    for (const auto &name : model.linearNames())
        if (auto *l = dynamic_cast<LoraLinear *>(&model.linear(name)))
            out.emplace_back(name, l);
    return out;
}

int64_t loraParameterCount(Transformer &model)
{
    int64_t n = 0;
    for (const auto &[name, l] : loraLayers(model))
        n += l->loraA().numel() + l->loraB().numel();
    return n;
}

void mergeLoraDense(Transformer &model)
{
    at::NoGradGuard noGrad;
    for (const auto &[name, l] : loraLayers(model))
        model.setLinear(name, denseCopyOf(*l));
}

std::vector<MergeError> mergeLoraQuantized(Transformer &model)
{
    at::NoGradGuard noGrad;
    std::vector<MergeError> report;
    for (const auto &[name, l] : loraLayers(model)) {
        MergeError e;
        e.name = name;
        const at::Tensor w = l->base()->denseWeight().detach();
        const at::Tensor merged = w + l->delta();
        e.deltaRelNorm = frobenius(l->delta()) / std::max(frobenius(w), 1e-30);
        const at::Tensor b = l->bias().defined() ? l->bias().detach().clone() : at::Tensor();
        const DenseLinear dense(merged, b);
        auto q = std::dynamic_pointer_cast<QuantizedLinear>(l->base());
        if (!q) {
            e.method = "dense";
            model.setLinear(name, std::make_shared<DenseLinear>(merged, b));
            report.push_back(e);
            continue;
        }
        const std::string where = "merge " + name;
        json flat = q->config();
        const QuantMethod &method = quantMethod(flat.at("method").get<std::string>(), where);
        if (method.calibration != CalibrationNeed::None) {
            if (!flat.contains("bits") || !flat.contains("group_size")
                || !flat.contains("symmetric"))
                throw Error(where + ": method " + method.name
                            + " needs calibration data to re-quantize; merge densely instead");
            flat = {{"method", "int"},
                    {"bits", flat["bits"]},
                    {"group_size", flat["group_size"]},
                    {"symmetric", flat["symmetric"]},
                    {"act_bits", q->actBits()}};
            e.rtnFallback = true;
        }
        const MethodSpec spec = MethodSpec::fromJson(flat, where);
        auto op = quantizeLinear(dense, spec, nullptr, where);
        e.method = spec.label();
        e.relError = frobenius(op->denseWeight() - merged) / std::max(frobenius(merged), 1e-30);
        model.setLinear(name, op);
        report.push_back(e);
    }
    return report;
}

void mergeQaLora(Transformer &model)
{
    at::NoGradGuard noGrad;
    std::vector<std::pair<std::string, std::shared_ptr<IntGroupLinear>>> merged;
    for (const auto &[name, l] : loraLayers(model)) {
        const int64_t g = l->config().qaGroupSize;
        if (g <= 0)
            continue;
        const std::string where = "QA-LoRA merge " + name;
        auto base = std::dynamic_pointer_cast<IntGroupLinear>(l->base());
        if (!base)
            throw Error(where + ": needs a group-wise INT base, got " + l->base()->kind());
        if (base->permutation().defined() || base->inputScale().defined())
            throw Error(where + ": the base has input transforms (act-order or AWQ scales)");
        const auto &cfg = base->intConfig();
        auto tensors = base->tensors();
        const at::Tensor scales = tensors.at("scales");
        // Per (row, group) update: scale * (B A)[row, group] / g, A's columns being groups.
        const at::Tensor d = at::matmul(l->loraB(), l->loraA()) * (l->config().scale() / g);
        at::Tensor zeros = base->realZeros().defined() ? base->realZeros()
            : cfg.symmetric ? at::full_like(scales, static_cast<float>(1 << (cfg.bits - 1)))
                            : tensors.at("qzeros").to(at::kFloat);
        const at::Tensor zeroScale = scales == 0;
        if ((zeroScale & (d != 0)).any().item<bool>())
            throw Error(where + ": a group with scale 0 has a non-zero update");
        const at::Tensor moved = at::where(zeroScale, zeros, zeros - d / scales.clamp_min(1e-30));
        tensors.erase("zeros_f");
        auto op = std::make_shared<IntGroupLinear>(cfg, base->outFeatures(), base->inFeatures(),
                                                   tensors);
        op->setMethod(base->config().at("method").get<std::string>());
        op->setRealZeros(moved.contiguous());
        op->setActBits(base->actBits());
        merged.emplace_back(name, op);
    }
    for (const auto &[name, op] : merged)
        model.setLinear(name, op);
}

} // namespace qb
