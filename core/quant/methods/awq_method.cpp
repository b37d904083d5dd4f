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
    m.calibration = CalibrationNeed::Rows;
    m.unit = CalibrationUnit::DecoderLayer;
    m.label = [grid = m.label](const MethodSpec &s) {
        return grid(s) + (s.boolean("clip_search") ? "" : "-noclip");
    };
    m.quantize = [](const at::Tensor &w, const at::Tensor &b, const LayerCalibration *calib,
                    const MethodSpec &s, const std::string &) -> std::shared_ptr<QuantizedLinear> {
        AwqConfig cfg;
        cfg.quant = method_common::intGroupConfig(s);
        cfg.clipSearch = s.boolean("clip_search");
        return awqQuantize(w, b, calib->rows, cfg);
    };
    return m;
}

} // namespace qb
