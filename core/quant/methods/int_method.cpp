// int: group-wise INT-k round-to-nearest (quant/int_group_linear.h).
#include "quant/int_group_linear.h"
#include "quant/methods/method_common.h"

namespace qb {

QuantMethod intMethod()
{
    QuantMethod m = method_common::intGroupMethod(
        "int", "group-wise INT-k (2, 3, 4, 8 bits), round to nearest");
    m.quantize = [](const at::Tensor &w, const at::Tensor &b, const LayerCalibration *,
                    const MethodSpec &s, const std::string &) -> std::shared_ptr<QuantizedLinear> {
        return IntGroupLinear::quantize(w, b, method_common::intGroupConfig(s));
    };
    return m;
}

} // namespace qb
