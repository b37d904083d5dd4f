// fp8: FP8 E4M3 weights with one scale per output channel (quant/fp8_linear.h).
#include "quant/fp8_linear.h"
#include "quant/method_registry.h"

namespace qb {

QuantMethod fp8Method()
{
    QuantMethod m;
    m.name = "fp8";
    m.description = "FP8 E4M3 weights, one scale per output channel";
    m.label = [](const MethodSpec &) { return std::string("fp8-e4m3"); };
    m.quantize = [](const at::Tensor &w, const at::Tensor &b, const LayerCalibration *,
                    const MethodSpec &, const std::string &) -> std::shared_ptr<QuantizedLinear> {
        return Fp8Linear::quantize(w, b);
    };
    m.load = [](const nlohmann::json &, const std::map<std::string, at::Tensor> &t, int64_t out,
                int64_t in, const std::string &where) -> std::shared_ptr<QuantizedLinear> {
        using namespace quant_detail;
        return std::make_shared<Fp8Linear>(need(t, "qweight", at::kByte, {out, in}, where),
                                           need(t, "scales", at::kFloat, {out}, where),
                                           optionalBias(t, out, where));
    };
    return m;
}

} // namespace qb
