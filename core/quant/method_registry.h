// The table of quantization methods, as ggml's type traits: one QuantMethod per method, each
// defined in its own file under quant/methods/ and listed on one line in method_registry.cpp.
// Everything that used to dispatch on the method's name reads it from here: MethodSpec's
// parameters, label and validation, quantizeLinear(), checkpoint loading (makeQuantizedLinear),
// the calibration quantizeModel() records and its unit, the quantize node's parameter list and
// override keys, the sensitivity analysis' override strings and the CLI's options.
// Built on first use, then read-only: safe to read from any thread.
#pragma once
#include "api/registry.h"
#include "quant/method_spec.h"
#include "quant/quantized_linear.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace qb {

// The calibration statistic a method quantizes with (LayerCalibration's field).
enum class CalibrationNeed { None, Absmax, Hessian, Rows };

// The layers calibrated together before any of them is quantized (quantize_model.h): one layer
// alone (no forward pass), a whole decoder layer, or one GPTQ sub-block of it ({q,k,v}, {o},
// {gate,up}, {down}).
enum class CalibrationUnit { Layer, DecoderLayer, GptqSubBlock };

struct QuantMethod
{
    std::string name;        // as in experiment files: "nf4", "gptq", ...
    std::string description; // one line for help texts
    // The method's own parameters with their defaults, ranges and descriptions (without the
    // method's name in front; the quantize node adds it).
    std::vector<ParamSpec> params;
    CalibrationNeed calibration = CalibrationNeed::None;
    CalibrationUnit unit = CalibrationUnit::Layer;

    // "nf4-dq-b64", "gptq-int4-g128-act", ...
    std::function<std::string(const MethodSpec &)> label;
    // Settings the ParamSpec ranges cannot express; throws qb::Error naming `where`. May be empty.
    std::function<void(const MethodSpec &, const std::string &where)> validate;
    // weight: [out, in] float32; bias: [out] float32 or undefined; calib: non-null and holding
    // the needed statistic when `calibration` is not None.
    std::function<std::shared_ptr<QuantizedLinear>(const at::Tensor &weight, const at::Tensor &bias,
                                                   const LayerCalibration *calib,
                                                   const MethodSpec &spec,
                                                   const std::string &where)>
        quantize;
    // The op rebuilt from its config() and tensors() (a checkpoint's); throws qb::Error naming
    // `where` for a missing or misshapen tensor.
    std::function<std::shared_ptr<QuantizedLinear>(
        const nlohmann::json &config, const std::map<std::string, at::Tensor> &tensors,
        int64_t out, int64_t in, const std::string &where)>
        load;

    const ParamSpec *param(const std::string &name) const;
};

// Every method, in the order the quantize node offers them.
const std::vector<QuantMethod> &quantMethods();

// The method called `name`; throws qb::Error naming `where` and listing the known names.
const QuantMethod &quantMethod(const std::string &name, const std::string &where);

// The quantize node's method parameters: `method` (an enum of every name, default
// `defaultMethod`), then the union of every method's parameters, each marked onlyWhen("method",
// the methods that use it) and described as "int / gptq / awq: <description>".
std::vector<ParamSpec> quantMethodParams(const std::string &defaultMethod);

} // namespace qb
