#include "quant/quantized_linear.h"

#include "quant/fused_kernels.h"
#include "quant/method_registry.h"
#include "util/error.h"

#include <torch/csrc/autograd/custom_function.h>

#include <functional>

namespace qb {

namespace {

// y = compute(x), the op's own arithmetic (integer kernels on the detached input), with the
// gradient of x · Wᵀ: grad_x = grad_y · W for W the dequantized weight. bitsandbytes' int8
// matmul (LLM.int8()) takes the same gradient; the weight and bias get none (they are frozen).
class IntegerStraightThrough : public torch::autograd::Function<IntegerStraightThrough>
{
public:
    static at::Tensor forward(torch::autograd::AutogradContext *ctx, const at::Tensor &x,
                              const at::Tensor &weight,
                              const std::function<at::Tensor(const at::Tensor &)> &compute)
    {
        ctx->save_for_backward({weight});
        return compute(x);
    }

    static torch::autograd::variable_list backward(torch::autograd::AutogradContext *ctx,
                                                   torch::autograd::variable_list grads)
    {
        const at::Tensor weight = ctx->get_saved_variables()[0];
        return {at::matmul(grads[0], weight), at::Tensor(), at::Tensor()};
    }
};

} // namespace

namespace quant_detail {

at::Tensor rows2d(const at::Tensor &x)
{
    return x.detach().to(at::kFloat).reshape({-1, x.size(-1)}).contiguous();
}

at::Tensor need(const std::map<std::string, at::Tensor> &tensors, const std::string &name,
                at::ScalarType dtype, const std::vector<int64_t> &shape, const std::string &where)
{
    auto it = tensors.find(name);
    if (it == tensors.end())
        throw Error(where + ": tensor '" + name + "' is missing");
    const at::Tensor &t = it->second;
    if (t.scalar_type() != dtype || t.sizes().vec() != shape) {
        std::string want, got;
        for (auto d : shape)
            want += (want.empty() ? "" : ", ") + std::to_string(d);
        for (auto d : t.sizes())
            got += (got.empty() ? "" : ", ") + std::to_string(d);
        throw Error(where + ": tensor '" + name + "' is "
                    + std::string(c10::toString(t.scalar_type())) + " [" + got + "], expected "
                    + c10::toString(dtype) + " [" + want + "]");
    }
    return t.contiguous();
}

at::Tensor optionalBias(const std::map<std::string, at::Tensor> &tensors, int64_t out,
                        const std::string &where)
{
    if (!tensors.count("bias"))
        return {};
    return need(tensors, "bias", at::kFloat, {out}, where);
}

} // namespace quant_detail

at::Tensor fakeQuantizeActivations(const at::Tensor &x, int bits)
{
    TORCH_CHECK(bits >= 2 && bits <= 8, "fakeQuantizeActivations: bits ", bits, " not in 2..8");
    const double q = static_cast<double>((1 << (bits - 1)) - 1);
    const at::Tensor v = x.detach();
    const at::Tensor scale = v.abs().amax(-1, /*keepdim=*/true) / q;
    const at::Tensor safe = at::where(scale > 0, scale, at::ones_like(scale));
    const at::Tensor rounded = (v / safe).round().clamp(-q, q) * scale;
    if (!x.requires_grad())
        return rounded;
    return x + (rounded - v); // value of `rounded`, gradient of x
}

nlohmann::json QuantizedLinear::config() const
{
    nlohmann::json c = methodConfig();
    if (m_actBits > 0)
        c["act_bits"] = m_actBits;
    return c;
}

at::Tensor QuantizedLinear::forward(const at::Tensor &input)
{
    const at::Tensor x = m_actBits > 0 ? fakeQuantizeActivations(input, m_actBits) : input;
    // The kernels have no backward: an input that needs a gradient (adapters upstream being
    // trained) goes through the differentiable reference.
    const bool needsGrad = x.requires_grad() && at::GradMode::is_enabled();
    // The fused side decides by rows and format (fused_kernels.h: runFused): up to
    // fusedMaxRows() its GEMV/small-GEMM kernels, beyond that a GEMM decoding the weight a panel
    // at a time where the format allows, else (an undefined tensor) the reference.
    if (!needsGrad && fusedKernelsEnabled()) {
        at::Tensor y = fusedForward(x);
        if (y.defined())
            return y;
    }
    if (needsGrad && !referenceDifferentiable())
        return IntegerStraightThrough::apply(
            x, dequantizedWeight(), [this](const at::Tensor &in) { return referenceForward(in); });
    return referenceForward(x);
}

std::shared_ptr<QuantizedLinear> makeQuantizedLinear(const nlohmann::json &config,
                                                     const std::map<std::string, at::Tensor> &t,
                                                     int64_t out, int64_t in,
                                                     const std::string &where)
{
    const std::string method = config.is_object() && config.contains("method")
                                   && config["method"].is_string()
                                   ? config["method"].get<std::string>()
                                   : std::string();
    const QuantMethod &m = quantMethod(method, where);
    try {
        auto op = m.load(config, t, out, in, where);
        const int actBits = config.value("act_bits", 0);
        if (actBits != 0 && (actBits < 2 || actBits > 8))
            throw Error(where + ": act_bits " + std::to_string(actBits) + " not in 2..8");
        op->setActBits(actBits);
        return op;
    } catch (const nlohmann::json::exception &e) {
        throw Error(where + ": bad quantization config " + config.dump() + ": " + e.what());
    }
}

} // namespace qb
