// awq: group-wise INT-k with AWQ's activation-aware input scaling (quant/awq.h), calibrated one
// decoder layer at a time on a subset of input rows.
#include "quant/awq.h"
#include "quant/methods/method_common.h"

namespace qb {

QuantMethod awqMethod()
{
    QuantMethod m = method_common::intGroupMethod(
        "awq", "group-wise INT-k by AWQ (activation-aware scaling, clipping search)");
    m.params.push_back(
        ParamSpec::boolean("clip_search", true, "search a clipping range per group"));
    m.params.push_back(ParamSpec::boolean(
        "shared_scales", false,
        "one input scale for the layers reading one input (q/k/v, gate/up), searched on their "
        "stacked outputs as AutoAWQ does; the Hugging Face AWQ export needs it"));
    m.calibration = CalibrationNeed::Rows;
    m.unit = CalibrationUnit::DecoderLayer;
    m.label = [grid = m.label](const MethodSpec &s) {
        return grid(s) + (s.boolean("clip_search") ? "" : "-noclip")
            + (s.boolean("shared_scales") ? "-shared" : "");
    };
    m.quantize = [](const at::Tensor &w, const at::Tensor &b, const LayerCalibration *calib,
                    const MethodSpec &s, const std::string &) -> std::shared_ptr<QuantizedLinear> {
        AwqConfig cfg;
        cfg.quant = method_common::intGroupConfig(s);
        cfg.clipSearch = s.boolean("clip_search");
        at::Tensor searchWeight;
        if (s.boolean("shared_scales")) {
            if (!calib->inputScaleFoldable) {
                // As AutoAWQ: no scaling where it could not be folded away (only a = 0, s = 1).
                cfg.grid = 1;
                auto op = awqQuantize(w, b, calib->rows, cfg);
                op->setInputScale(at::Tensor());
                return op;
            }
            if (calib->inputGroupWeights.size() > 1)
                searchWeight = at::cat(calib->inputGroupWeights, 0);
        }
        return awqQuantize(w, b, calib->rows, cfg, nullptr, searchWeight);
    };
    return m;
}

} // namespace qb
