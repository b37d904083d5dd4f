// Per-layer quantization sensitivity and a greedy mixed-precision allocation under a bits/param
// budget (bit_allocation.h), on calibration sequences:
//   1. every chosen layer (all linears but lm_head, as the quantize node chooses with include "*")
//      is quantized alone, once with the low-bit method and once with the high-bit one, the rest of
//      the model staying as it is; the mean KL(model || model with that layer quantized) over all
//      positions is its sensitivity (klLow) and its 8-bit residual (klHigh). Methods that need
//      calibration (gptq, awq, smoothquant) calibrate on the unmodified model's activations, which
//      are exactly what that layer sees when it is the only one quantized;
//   2. the curve: starting with every layer at low bits, the layers are upgraded one at a time in
//      ranking order (most sensitive first); after each step the bits/param and the measured KL of
//      the whole mixed model are recorded (n + 1 points). The mixed models reuse the single-layer
//      ops of step 1, so a GPTQ curve is not sequential GPTQ (the quantize node's result differs
//      slightly);
//   3. the greedy allocation under the budget (bit_allocation.h) and its measured KL, with the
//      quantize node's override strings that reproduce it.
// Memory: the reference log-probabilities of every calibration position are kept
// (positions x vocab x 8 bytes). Cost: 2n single-layer quantizations and 3n + 2 model passes.
// Thread safety: mutates the model temporarily (every op is restored before returning, also on
// exceptions); nothing else may use it meanwhile. Runs on the calling thread.
#pragma once
#include "analysis/bit_allocation.h"
#include "analysis/calibration.h"
#include "analysis/layer_error.h"
#include "quant/method_spec.h"

namespace qb {

struct SensitivityOptions
{
    MethodSpec low;  // e.g. nf4-b64 or int4-g128
    MethodSpec high; // the upgrade, e.g. int8
    double budgetBitsPerParam = 5.0;
    int64_t maxCalibrationRows = 2048; // awq: rows kept per layer
};

struct LayerSensitivity
{
    LayerCost cost; // name, parameters, bytes at both settings, sensitivity = klLow
    int64_t layer = 0;
    std::string module;
    std::string lowKind, highKind;
    double klLow = 0, klHigh = 0;
};

struct CurvePoint
{
    size_t upgraded = 0; // layers at high bits (the first `upgraded` of the ranking)
    std::string layer;   // the layer upgraded at this step; empty for the all-low start
    double bitsPerParam = 0;
    double kl = 0; // measured on the mixed model
};

struct SensitivityReport
{
    std::vector<LayerSensitivity> layers; // model order
    std::vector<size_t> ranking;          // indices into layers, most sensitive first
    std::vector<CurvePoint> curve;
    BitAllocation allocation;
    double allocationKl = 0;
    std::vector<std::string> overrides; // "NAME: method=... key=value ..." per upgraded layer
};

// calibration: equal-length token sequences (calibration.h). Progress counts quantizations and
// model passes; hooks.checkCancelled may throw qb::Cancelled. Throws qb::Error for invalid methods or calibration.
SensitivityReport analyzeSensitivity(Transformer &model, const TokenSequences &calibration,
                                     const SensitivityOptions &options,
                                     const WorkHooks &hooks = {});

// "PATTERN: method=M key=value ..." with every parameter of M (its table entry's, in its order,
// each value as JSON), as the quantize node's overrides parameter reads it.
std::string overrideString(const std::string &pattern, const MethodSpec &method);

} // namespace qb
