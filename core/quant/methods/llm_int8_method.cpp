// llm_int8: LLM.int8() (Dettmers et al. 2022), int8 weights with the outlier input columns
// multiplied in float32 at run time (quant/int8_linear.h). No calibration: outliers are found
// per forward.
#include "quant/int8_linear.h"
#include "quant/methods/method_common.h"

namespace qb {

QuantMethod llmInt8Method()
{
    QuantMethod m;
    m.name = "llm_int8";
    m.description = "LLM.int8(): int8 weights, outlier input columns in float32";
    m.params = {ParamSpec::real("threshold", 6.0, "inputs with |x| >= threshold go through float32")
                    .range(0.0, 1e6)};
    m.label = [](const MethodSpec &s) {
        return "llm_int8-t" + method_common::number(s.real("threshold"));
    };
    m.quantize = [](const at::Tensor &w, const at::Tensor &b, const LayerCalibration *,
                    const MethodSpec &s, const std::string &) -> std::shared_ptr<QuantizedLinear> {
        return LlmInt8Linear::quantize(w, b, s.real("threshold"));
    };
    m.load = [](const nlohmann::json &config, const std::map<std::string, at::Tensor> &t,
                int64_t out, int64_t in, const std::string &where)
        -> std::shared_ptr<QuantizedLinear> {
        using namespace quant_detail;
        return std::make_shared<LlmInt8Linear>(need(t, "qweight", at::kChar, {out, in}, where),
                                               need(t, "scales", at::kFloat, {out}, where),
                                               optionalBias(t, out, where),
                                               config.value("threshold", 6.0));
    };
    return m;
}

} // namespace qb
