// int8: absmax INT8 per output channel, weight-only (quant/int8_linear.h).
#include "quant/int8_linear.h"
#include "quant/methods/method_common.h"

namespace qb {

QuantMethod int8Method()
{
    QuantMethod m;
    m.name = "int8";
    m.description = "absmax INT8 per output channel (weight-only)";
    m.params = {method_common::actBitsParam()};
    m.label = [](const MethodSpec &) { return std::string("int8"); };
    m.quantize = [](const at::Tensor &w, const at::Tensor &b, const LayerCalibration *,
                    const MethodSpec &, const std::string &) -> std::shared_ptr<QuantizedLinear> {
        return Int8RowLinear::quantize(w, b);
    };
    m.load = [](const nlohmann::json &, const std::map<std::string, at::Tensor> &t, int64_t out,
                int64_t in, const std::string &where) -> std::shared_ptr<QuantizedLinear> {
        using namespace quant_detail;
        return std::make_shared<Int8RowLinear>(need(t, "qweight", at::kChar, {out, in}, where),
                                               need(t, "scales", at::kFloat, {out}, where),
                                               optionalBias(t, out, where));
    };
    return m;
}

} // namespace qb
