// gptq: group-wise INT-k with GPTQ's Hessian-aware rounding (quant/gptq.h), calibrated one
// sub-block of a decoder layer at a time.
#include "quant/gptq.h"
#include "quant/methods/method_common.h"
#include "util/error.h"

namespace qb {

namespace {

GptqConfig gptqConfig(const MethodSpec &s)
{
    GptqConfig c;
    c.quant = method_common::intGroupConfig(s);
    c.actOrder = s.boolean("act_order");
    c.staticGroups = s.boolean("static_groups");
    c.damp = s.real("damp");
    return c;
}

} // namespace

QuantMethod gptqMethod()
{
    QuantMethod m = method_common::intGroupMethod(
        "gptq", "group-wise INT-k by GPTQ (Hessian-aware error feedback), calibrated");
    m.params.push_back(ParamSpec::boolean("act_order", false,
                                          "quantize columns in descending Hessian-diagonal order"));
    m.params.push_back(
        ParamSpec::boolean("static_groups", false, "group scales from the original weights"));
    m.params.push_back(
        ParamSpec::real("damp", 0.01, "dampening as a fraction of mean diag(H)").range(0.0, 10.0));
    m.calibration = CalibrationNeed::Hessian;
    m.unit = CalibrationUnit::GptqSubBlock;
    m.label = [grid = m.label](const MethodSpec &s) {
        return grid(s) + (s.boolean("act_order") ? "-act" : "")
            + (s.boolean("static_groups") ? "-static" : "");
    };
    m.validate = [grid = m.validate](const MethodSpec &s, const std::string &where) {
        grid(s, where);
        if (s.real("damp") < 0.0)
            throw Error(where + ": damp must be >= 0");
    };
    m.quantize = [](const at::Tensor &w, const at::Tensor &b, const LayerCalibration *calib,
                    const MethodSpec &s, const std::string &where)
        -> std::shared_ptr<QuantizedLinear> {
        const GptqConfig cfg = gptqConfig(s);
        try {
            return gptqLinear(gptqQuantize(w, calib->hessian, cfg), cfg.quant, b);
        } catch (const Error &e) {
            throw Error(where + ": " + e.what());
        }
    };
    return m;
}

} // namespace qb
