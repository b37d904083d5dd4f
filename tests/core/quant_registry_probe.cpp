#include "quant_registry_probe.h"

#include "api/registry.h"
#include "analysis/sensitivity.h"
#include "kernels/gemm_f32.h"
#include "quant/fused_kernels.h"
#include "quant/method_registry.h"
#include "quant/quantize_model.h"

#include <ATen/ATen.h>

namespace qbprobe {

namespace {

qb::MethodSpec parse(const std::string &json)
{
    return qb::MethodSpec::fromJson(nlohmann::json::parse(json), "probe");
}

// weight [out, in] float32 as given; fusedForward marks its result with -1234.
class MarkedLinear : public qb::QuantizedLinear
{
public:
    MarkedLinear(at::Tensor w, at::Tensor b) : m_w(std::move(w)) { m_bias = std::move(b); }
    int64_t inFeatures() const override { return m_w.size(1); }
    int64_t outFeatures() const override { return m_w.size(0); }
    std::string kind() const override { return "marked"; }
    int64_t weightBytes() const override { return m_w.numel() * 4; }
    at::Tensor dequantizedWeight() const override { return m_w; }
    nlohmann::json methodConfig() const override { return {{"method", "marked"}}; }
    std::map<std::string, at::Tensor> tensors() const override { return {{"weight", m_w}}; }

protected:
    // Like runFused for a layout without a many-rows kernel: takes up to fusedMaxRows() rows,
    // declines (undefined) beyond.
    at::Tensor fusedForward(const at::Tensor &x) override
    {
        if (x.numel() / inFeatures() > fusedMaxRows())
            return {};
        auto shape = x.sizes().vec();
        shape.back() = outFeatures();
        return at::full(shape, -1234.0f);
    }

private:
    at::Tensor m_w;
};

bool marked(const at::Tensor &y) { return y.eq(-1234.0f).all().item<bool>(); }

} // namespace

std::vector<MethodInfo> quantMethods()
{
    std::vector<MethodInfo> out;
    for (const auto &m : qb::quantMethods()) {
        MethodInfo i;
        i.name = m.name;
        for (const auto &p : m.params)
            i.params.push_back(p.name);
        i.calibrated = m.calibration != qb::CalibrationNeed::None;
        out.push_back(i);
    }
    return out;
}

std::string label(const std::string &json) { return parse(json).label(); }

std::string specJson(const std::string &json) { return parse(json).toJson().dump(); }

std::string overrideString(const std::string &pattern, const std::string &json)
{
    return qb::overrideString(pattern, parse(json));
}

std::string parseOverride(const std::string &text)
{
    const nlohmann::json node
        = qb::resolveParams(*qb::builtinRegistry().find("quantize"), nlohmann::json::object());
    return qb::parseLayerOverride(text, node, "overrides[0]").method.toJson().dump();
}

std::string reloadMismatch(const std::string &json)
{
    at::NoGradGuard noGrad;
    const qb::MethodSpec spec = parse(json);
    const qb::QuantMethod &m = qb::quantMethod(spec.method, "probe");
    at::manual_seed(11);
    const int64_t out = 24, in = 64;
    const at::Tensor w = at::randn({out, in}) * 0.1;
    const at::Tensor b = at::randn({out}) * 0.01;
    const at::Tensor calibX = at::randn({256, in});
    qb::LayerCalibration calib;
    calib.rows = calibX;
    calib.absmax = calibX.abs().amax(0);
    calib.hessian = (at::matmul(calibX.t(), calibX) * (2.0 / 256)).contiguous();
    calib.tokens = 256;
    auto op = m.quantize(w, b, &calib, spec, "probe");
    std::map<std::string, at::Tensor> stored;
    for (const auto &[k, t] : op->tensors())
        stored[k] = t.clone();
    const nlohmann::json config = nlohmann::json::parse(op->config().dump());
    auto loaded = m.load(config, stored, out, in, "probe");
    auto viaCheckpoint = qb::makeQuantizedLinear(config, stored, out, in, "probe");
    // Outliers above llm_int8's threshold in two columns, so its float32 path is exercised too.
    at::Tensor x = at::randn({5, in});
    x.select(1, 3).mul_(20.0);
    x.select(1, 40).mul_(20.0);
    const at::Tensor y = op->forward(x);
    if (loaded->config() != op->config())
        return "config " + loaded->config().dump() + " != " + op->config().dump();
    if (loaded->kind() != op->kind())
        return "kind " + loaded->kind() + " != " + op->kind();
    const auto again = loaded->tensors();
    if (again.size() != stored.size())
        return "tensor count differs";
    for (const auto &[k, t] : stored)
        if (!again.count(k) || !at::equal(again.at(k), t))
            return "tensor " + k + " differs";
    if (!at::equal(loaded->forward(x), y))
        return "forward of the loaded op differs";
    if (!at::equal(viaCheckpoint->forward(x), y))
        return "forward of makeQuantizedLinear's op differs";
    return {};
}

std::string panelGemmMismatch(const std::string &json)
{
    at::NoGradGuard noGrad;
    const qb::MethodSpec spec = parse(json);
    const qb::QuantMethod &m = qb::quantMethod(spec.method, "probe");
    at::manual_seed(12);
    const int64_t out = 45, in = 192, rows = 20;
    const at::Tensor w = at::randn({out, in}) * 0.1;
    const at::Tensor b = at::randn({out}) * 0.01;
    auto op = m.quantize(w, b, nullptr, spec, "probe");
    if (rows <= op->fusedMaxRows())
        return "20 rows would take the fused kernels (fusedMaxRows "
            + std::to_string(op->fusedMaxRows()) + ")";
    const at::Tensor x = at::randn({rows, in});
    const bool wasFused = qb::fusedKernelsEnabled();
    qb::setFusedKernelsEnabled(true);
    const at::Tensor y = op->forward(x);
    qb::setFusedKernelsEnabled(wasFused);
    const at::Tensor deq = op->dequantizedWeight().contiguous();
    std::vector<float> packed(static_cast<size_t>(qb::kernels::gemm_f32_packed_floats(out, in)));
    qb::kernels::gemm_f32_pack(deq.data_ptr<float>(), out, in, packed.data());
    at::Tensor want = at::empty({rows, out});
    const at::Tensor bias = b.contiguous();
    qb::kernels::GemmF32Args a;
    a.x = x.data_ptr<float>(), a.m = rows, a.ldx = in;
    a.packed = packed.data(), a.n = out, a.k = in;
    a.bias = bias.data_ptr<float>();
    a.y = want.data_ptr<float>(), a.ldy = out;
    qb::kernels::gemm_f32(a, 0, qb::kernels::gemm_f32_items(a), qb::activeKernelPath());
    if (!at::equal(y, want))
        return "max |panel GEMM - dequantize + gemm_f32| "
            + std::to_string((y - want).abs().max().item<double>());
    return {};
}

SeamRun fusedSeam()
{
    at::NoGradGuard noGrad;
    at::manual_seed(3);
    const at::Tensor w = at::randn({8, 16}), b = at::randn({8});
    MarkedLinear op(w, b);
    SeamRun r;
    r.fused1 = marked(op.forward(at::randn({1, 16})));
    r.fused6 = marked(op.forward(at::randn({2, 3, 16})));
    const at::Tensor x = at::randn({100, 16});
    const at::Tensor y = op.forward(x);
    r.fused100 = marked(y);
    // The reference: dequantize + kernels/gemm_f32.h (float32 sums in another order than BLAS),
    // and exactly at::linear with the fused kernels off.
    r.referenceDiff = (y - at::linear(x, w, b)).abs().max().item<double>();
    const bool wasFused = qb::fusedKernelsEnabled();
    qb::setFusedKernelsEnabled(false);
    r.referenceExactUnfused = at::equal(op.forward(x), at::linear(x, w, b));
    qb::setFusedKernelsEnabled(wasFused);
    // An input that needs a gradient never reaches fusedForward, even one row.
    {
        at::AutoGradMode grad(true);
        r.fusedWithGrad = marked(op.forward(at::randn({1, 16}).requires_grad_()).detach());
    }
    return r;
}

} // namespace qbprobe
