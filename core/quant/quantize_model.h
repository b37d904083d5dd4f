// Model-level quantization: choose linear layers by name patterns, pick a method per layer (a base
// method plus per-pattern overrides for mixed precision), capture calibration activations where a
// method needs them, and swap each chosen LinearOp for its quantized op.
//
// Calibration (methods whose table entry, quant/method_registry.h, has a CalibrationNeed: gptq,
// awq, smoothquant): each chosen layer is temporarily wrapped by a recording op
// that keeps running statistics over every calibration token (per-channel absmax, the GPTQ
// Hessian 2 X^T X / n) and a bounded, evenly strided subset of input rows (AWQ). The model is run
// on the calibration sequences (equal-length ones batched together); the forward stops as soon as
// every recorder of the current unit has seen the batch, so later layers are not computed.
// Layers are processed in model order and each unit is calibrated only after every earlier
// layer has been quantized, so its inputs are those of the already-quantized model (GPTQ's
// sequential mode). A unit is the method's CalibrationUnit: for GPTQ one sub-block of a decoder
// layer ({q,k,v}, {o}, {gate,up}, {down}: "true sequential"), for AWQ/SmoothQuant one decoder
// layer; methods without calibration take a single layer without any forward pass. Cost: a unit in layer l runs layers 0..l, so
// a GPTQ pass over L layers costs about 2 L^2 layer forwards (fine for the built-in model; a
// forward-from-layer API would make it linear).
// lm_head is chosen only when a pattern names it ("lm_head") and never when it is tied to the
// embeddings; embeddings and norms are never quantized. LLM.int8() needs no calibration (its
// outliers are found at run time).
// Thread safety: mutates the model; one call at a time, nothing else may use the model meanwhile.
#pragma once
#include "model/transformer.h"
#include "api/work.h"
#include "quant/method_spec.h"

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <vector>

namespace qb {

struct LayerOverride
{
    std::string pattern; // glob on linear names
    MethodSpec method;
};

struct QuantSpec
{
    MethodSpec method;
    std::vector<std::string> include{"*"};
    std::vector<std::string> exclude;
    std::vector<LayerOverride> overrides; // first matching pattern wins
    int64_t maxCalibrationRows = 2048;    // rows kept per layer for AWQ
};

struct QuantizedLayer
{
    std::string name;
    std::string kind;
    int64_t parameters = 0;
    int64_t weightBytes = 0;   // without bias
    double weightRelError = 0; // ||W - W_q||_F / ||W||_F
};

struct QuantizeReport
{
    std::vector<QuantizedLayer> layers;
    int64_t parameters = 0;  // of the quantized layers
    int64_t weightBytes = 0; // of the quantized layers, without bias
    double bitsPerParam() const { return parameters ? 8.0 * weightBytes / parameters : 0.0; }
    std::string label; // the base label, "+mixed" when overrides changed some layers
};

// `*` matches any run of characters (dots included), `?` one character.
bool globMatch(const std::string &pattern, const std::string &name);

// The layers `spec` selects in `model`, in model order.
std::vector<std::string> selectLayers(const Transformer &model, const QuantSpec &spec);

// "key=value key=value ..." (values true/false are booleans, numbers without a '.' integers,
// other numbers floating point, anything else a string) overlaid on `base` (a flat object with
// at least `method`, unless the items name it) and read as MethodSpec::fromJson reads it. The
// one reader of method settings written as text: overrides, and bench model's --precisions.
// Throws qb::Error naming `where` for a malformed item or a key that no method knows.
MethodSpec parseMethodSettings(const std::string &items, const nlohmann::json &base,
                               const std::string &where);

// "PATTERN: key=value key=value ..." (the quantize node's overrides, e.g.
// "*.mlp.down_proj: method=int bits=8 group_size=0"): values true/false are booleans, numbers
// without a '.' integers, ...: parseMethodSettings over `node` (the node's resolved parameters,
// or any flat object with at least `method`). Throws qb::Error naming `where` for a
// malformed item or a key that no method knows.
LayerOverride parseLayerOverride(const std::string &text, const nlohmann::json &node,
                                 const std::string &where);

// calibration: token-id sequences (each non-empty, ids < vocab). Throws qb::Error when a chosen
// method needs calibration and none is given. Progress counts quantized layers ("quantizing
// NAME", then "quantized"); hooks.checkCancelled may throw qb::Cancelled.
QuantizeReport quantizeModel(Transformer &model, const QuantSpec &spec,
                             const std::vector<std::vector<int64_t>> &calibration,
                             const WorkHooks &hooks = {});

} // namespace qb
