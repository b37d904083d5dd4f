// smoothquant: SmoothQuant W8A8 (Xiao et al. 2023), calibrated one decoder layer at a time on the
// per-channel activation absmax (quant/smoothquant_linear.h).
#include "quant/methods/method_common.h"
#include "quant/smoothquant_linear.h"
#include "util/error.h"

namespace qb {

QuantMethod smoothquantMethod()
{
    QuantMethod m;
    m.name = "smoothquant";
    m.description = "SmoothQuant W8A8: outliers migrated into int8 weights, int8 activations";
    m.params = {ParamSpec::real("alpha", 0.5, "migration strength").range(0.0, 1.0)};
    m.calibration = CalibrationNeed::Absmax;
    m.unit = CalibrationUnit::DecoderLayer;
    m.label = [](const MethodSpec &s) {
        return "smoothquant-w8a8-a" + method_common::number(s.real("alpha"));
    };
    m.validate = [](const MethodSpec &s, const std::string &where) {
        const double alpha = s.real("alpha");
        if (!(alpha >= 0.0 && alpha <= 1.0))
            throw Error(where + ": alpha must be in [0, 1]");
    };
    m.quantize = [](const at::Tensor &w, const at::Tensor &b, const LayerCalibration *calib,
                    const MethodSpec &s, const std::string &) -> std::shared_ptr<QuantizedLinear> {
        return SmoothQuantLinear::quantize(w, b, calib->absmax, s.real("alpha"));
    };
    m.load = [](const nlohmann::json &config, const std::map<std::string, at::Tensor> &t,
                int64_t out, int64_t in, const std::string &where)
        -> std::shared_ptr<QuantizedLinear> {
        using namespace quant_detail;
        return std::make_shared<SmoothQuantLinear>(
            need(t, "qweight", at::kChar, {out, in}, where),
            need(t, "scales", at::kFloat, {out}, where), need(t, "smooth", at::kFloat, {in}, where),
            optionalBias(t, out, where), config.value("alpha", 0.5));
    };
    return m;
}

} // namespace qb
