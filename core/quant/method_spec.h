// MethodSpec: one quantization method with its settings, as the quantize node, the CLI and
// mixed-precision overrides name it; and quantizeLinear(), which turns one LinearOp into the
// method's quantized op given the layer's calibration statistics. What a method is (its
// parameters, label, validation, quantize and load) is in its entry of the method table
// (quant/method_registry.h); a MethodSpec is its name plus the values of its own parameters.
// Plain data and a pure function; thread-safe.
#pragma once
#include "model/linear.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

namespace qb {

struct MethodSpec
{
    std::string method = "int8"; // a name in quantMethods()
    // The method's own parameters, every one present (defaults filled in), typed as its ParamSpec
    // (Int: integer, Float: floating point, Bool: boolean).
    nlohmann::json params = nlohmann::json::object();

    // Reads `method` and then the method's own keys from a flat object (the quantize node's
    // parameters, an override, the CLI's options): missing keys take the defaults, other keys
    // are ignored. Throws qb::Error naming `where` and the key for an unknown method, a value of
    // the wrong type or an unsupported setting.
    static MethodSpec fromJson(const nlohmann::json &flat, const std::string &where);

    int64_t integer(const std::string &key) const;
    double real(const std::string &key) const;
    bool boolean(const std::string &key) const;

    bool needsCalibration() const;
    // The method's act_bits (activation quantization), 0 when it has none or it is off.
    int actBits() const;
    // "nf4-dq-b64", "int4-g128", "gptq-int4-g128-act", "llm_int8-t6", ...
    std::string label() const;
    // Throws qb::Error naming `where` for an unknown method or an unsupported combination.
    void validate(const std::string &where) const;
    // A complete set of the quantize node's method parameters: method, this method's values and
    // every other method's parameters at their defaults (so results and checkpoints written
    // before the method table read the same). fromJson(toJson()) == *this.
    nlohmann::json toJson() const;

    bool operator==(const MethodSpec &o) const { return method == o.method && params == o.params; }
    bool operator!=(const MethodSpec &o) const { return !(*this == o); }
};

// What a layer saw during calibration. Undefined tensors when not recorded.
struct LayerCalibration
{
    at::Tensor rows;    // [k, in] float32, an evenly strided subset of the inputs (AWQ)
    at::Tensor absmax;  // [in] float32, max |x_j| over all inputs (SmoothQuant)
    at::Tensor hessian; // [in, in] float32, 2 X^T X / n over all inputs (GPTQ)
    int64_t tokens = 0;
    // The weights ([out_i, in] float32) of every layer that reads the same input as this one
    // (q/k/v_proj, gate/up_proj), in model order, this one included; filled for decoder-layer
    // units only (AWQ's shared input scales), else empty.
    std::vector<at::Tensor> inputGroupWeights;
    // False when a per-channel input scale could not be folded into what produces this input:
    // o_proj under grouped-query attention, whose inputs repeat v_proj's outputs (AutoAWQ then
    // leaves o_proj unscaled).
    bool inputScaleFoldable = true;
};

// The quantized replacement of `op` (its denseWeight() and bias() are quantized). calib may be
// null for methods that need none; throws qb::Error naming `where` otherwise.
std::shared_ptr<LinearOp> quantizeLinear(const LinearOp &op, const MethodSpec &spec,
                                         const LayerCalibration *calib, const std::string &where);

} // namespace qb
