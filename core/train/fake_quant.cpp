#include "train/fake_quant.h"

#include "quant/int_group_linear.h"
#include "quant/method_registry.h"
#include "quant/methods/method_common.h"
#include "train/lora.h"
#include "util/error.h"

#include <cmath>

namespace qb {

namespace {

void checkMethod(const MethodSpec &spec, bool learnScale, const std::string &where)
{
    spec.validate(where);
    if (spec.needsCalibration())
        throw Error(where + ": QAT cannot fake-quantize " + spec.method
                    + " (it needs calibration data)");
    if (learnScale && spec.method != "int")
        throw Error(where + ": learned scales are supported for int only, not " + spec.method);
}

// The method's own packed op for w, decoded: what finishing QAT will store.
at::Tensor methodRoundTrip(const at::Tensor &w, const MethodSpec &spec)
{
    const QuantMethod &m = quantMethod(spec.method, "fakeQuantize");
    return m.quantize(w, {}, nullptr, spec, "fakeQuantize")->dequantizedWeight();
}

// Codes of w under per-column scales s ([out, in], each column its group's scale), as
// quantize_int_group does it: q = clamp(rne(w * (1/s)) + z, Qn, Qp).
struct IntCodes
{
    at::Tensor v;      // w / s, [out, in]
    at::Tensor q;      // codes as float (symmetric: signed, without the 2^(k-1) offset)
    at::Tensor z;      // zero points per column (0 when symmetric)
    at::Tensor zGroup; // zero points [out, G] (asymmetric)
    double qn = 0, qp = 0;
};

IntCodes intCodes(const at::Tensor &w, const at::Tensor &scale, const kernels::IntGroupConfig &cfg)
{
    const int64_t in = w.size(1), gs = kernels::int_group_size(cfg, in);
    const at::Tensor group = at::arange(in, at::kLong).div(gs, "floor");
    const at::Tensor inv = at::where(scale == 0, at::zeros_like(scale), scale.reciprocal());
    IntCodes c;
    c.v = w * inv.index_select(1, group);
    if (cfg.symmetric) {
        c.qp = (1 << (cfg.bits - 1)) - 1;
        c.qn = -c.qp;
        c.z = at::zeros_like(w);
    } else {
        c.qp = (1 << cfg.bits) - 1;
        const int64_t groups = scale.size(1);
        // lo = min(min of the group, 0), padded so a shorter last group reads +inf beyond the row.
        auto padded = at::constant_pad_nd(w, {0, groups * gs - in}, INFINITY);
        const at::Tensor lo = padded.view({w.size(0), groups, gs}).amin(-1).clamp_max(0);
        c.zGroup = at::clamp(at::round(-lo * inv), 0, c.qp);
        c.z = c.zGroup.index_select(1, group);
    }
    c.q = at::clamp(at::round(c.v) + c.z, c.qn, c.qp);
    return c;
}

} // namespace

at::Tensor fakeQuantize(const at::Tensor &w, const MethodSpec &spec, at::Tensor *learnedScale)
{
    TORCH_CHECK(w.dim() == 2 && w.scalar_type() == at::kFloat, "fakeQuantize: w must be [out, in] float32");
    checkMethod(spec, learnedScale != nullptr, "fakeQuantize");
    const at::Tensor wd = w.detach();
    if (!learnedScale)
        return methodRoundTrip(wd.contiguous(), spec) + (w - wd);

    const kernels::IntGroupConfig cfg = method_common::intGroupConfig(spec);
    if (!learnedScale->defined()) {
        *learnedScale = IntGroupLinear::quantize(wd, {}, cfg)->tensors().at("scales").clone();
        learnedScale->set_requires_grad(true);
    }
    const at::Tensor &s = *learnedScale;
    const int64_t in = w.size(1), gs = kernels::int_group_size(cfg, in);
    const at::Tensor group = at::arange(in, at::kLong).div(gs, "floor");
    const at::Tensor sCols = s.index_select(1, group); // differentiable in s
    at::Tensor deq, inside, coef;
    {
        at::NoGradGuard noGrad;
        const IntCodes c = intCodes(wd, s.detach(), cfg);
        const at::Tensor shifted = c.v + c.z;
        inside = (shifted >= c.qn) & (shifted <= c.qp);
        deq = (c.q - c.z) * sCols.detach();
        coef = at::where(inside, c.q - c.z - c.v, c.q - c.z);
        coef = coef / std::sqrt(static_cast<double>(gs) * c.qp);
    }
    // Each correction term is x - x.detach(): zero in value, the wanted gradient in backward.
    const at::Tensor scaleTerm = sCols * coef;
    return deq + (w - wd) * inside + (scaleTerm - scaleTerm.detach());
}

FakeQuantLinear::FakeQuantLinear(const LinearOp &source, const MethodSpec &spec, bool learnScale)
    : m_spec(spec)
{
    checkMethod(spec, learnScale, "QAT");
    at::NoGradGuard noGrad;
    m_weight = source.denseWeight().detach().to(at::kFloat).clone();
    m_weight.set_requires_grad(true);
    if (source.bias().defined()) {
        m_bias = source.bias().detach().to(at::kFloat).clone();
        m_bias.set_requires_grad(true);
    }
    if (learnScale)
        fakeQuantize(m_weight, m_spec, &m_scale);
}

at::Tensor FakeQuantLinear::forward(const at::Tensor &input)
{
    // The packed op quantizes its inputs the same way (QuantizedLinear::forward).
    const at::Tensor x = m_spec.actBits() > 0 ? fakeQuantizeActivations(input, m_spec.actBits())
                                              : input;
    const at::Tensor w = fakeQuantize(m_weight, m_spec, m_scale.defined() ? &m_scale : nullptr);
    return m_bias.defined() ? at::linear(x, w, m_bias) : at::linear(x, w);
}

int64_t FakeQuantLinear::weightBytes() const
{
    int64_t n = m_weight.numel();
    if (m_bias.defined())
        n += m_bias.numel();
    if (m_scale.defined())
        n += m_scale.numel();
    return n * 4;
}

at::Tensor FakeQuantLinear::denseWeight() const
{
    at::NoGradGuard noGrad;
    at::Tensor scale = m_scale;
    return fakeQuantize(m_weight, m_spec, m_scale.defined() ? &scale : nullptr);
}

std::vector<at::Tensor> FakeQuantLinear::trainableParameters()
{
    std::vector<at::Tensor> out{m_weight};
    if (m_bias.defined())
        out.push_back(m_bias);
    if (m_scale.defined())
        out.push_back(m_scale);
    return out;
}

std::shared_ptr<LinearOp> FakeQuantLinear::pack() const
{
    at::NoGradGuard noGrad;
    const at::Tensor b = m_bias.defined() ? m_bias.detach() : at::Tensor();
    if (!m_scale.defined())
        return quantizeLinear(DenseLinear(m_weight.detach(), b), m_spec, nullptr, "finishQat");
    const kernels::IntGroupConfig cfg = method_common::intGroupConfig(m_spec);
    const at::Tensor s = m_scale.detach().contiguous();
    const IntCodes c = intCodes(m_weight.detach(), s, cfg);
    const at::Tensor codes = cfg.symmetric ? c.q + (1 << (cfg.bits - 1)) : c.q;
    auto op = IntGroupLinear::fromCodes(codes.to(at::kByte), s,
                                        cfg.symmetric ? at::Tensor() : c.zGroup.to(at::kByte),
                                        cfg, b);
    op->setActBits(m_spec.actBits());
    return op;
}

std::vector<std::string> applyQat(Transformer &model, const MethodSpec &spec,
                                  const std::vector<std::string> &targets, bool learnScale)
{
    std::vector<std::string> names;
    try {
        names = selectTrainTargets(model, targets);
    } catch (const Error &e) {
        throw Error(std::string("QAT ") + e.what());
    }
    std::vector<std::shared_ptr<FakeQuantLinear>> ops;
    for (const auto &name : names)
        ops.push_back(std::make_shared<FakeQuantLinear>(model.linear(name), spec, learnScale));
    for (size_t i = 0; i < names.size(); ++i)
        model.setLinear(names[i], ops[i]);
    return names;
}

std::vector<std::pair<std::string, double>> finishQat(Transformer &model)
{
    std::vector<std::pair<std::string, double>> out;
    for (const auto &name : model.linearNames()) {
        auto *fq = dynamic_cast<FakeQuantLinear *>(&model.linear(name));
        if (!fq)
            continue;
        auto packed = fq->pack();
        at::NoGradGuard noGrad;
        const double diff = (packed->denseWeight() - fq->denseWeight()).abs().max().item<double>();
        model.setLinear(name, packed);
        out.emplace_back(name, diff);
    }
    return out;
}

} // namespace qb
