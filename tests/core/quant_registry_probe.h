// Std-only bridge from tst_quant_registry (Qt Test) to the method table (quant/method_registry.h)
// and the QuantizedLinear forward seam, in quant_registry_probe.cpp.
#pragma once
#include <string>
#include <vector>

namespace qbprobe {

struct MethodInfo
{
    std::string name;
    std::vector<std::string> params; // the method's own parameter names, in its order
    bool calibrated = false;
};
std::vector<MethodInfo> quantMethods();

// MethodSpec::fromJson(specJson).label(); throws qb::Error as fromJson does.
std::string label(const std::string &specJson);
// MethodSpec::fromJson(specJson).toJson().dump().
std::string specJson(const std::string &specJson);

// overrideString(pattern, fromJson(specJson)).
std::string overrideString(const std::string &pattern, const std::string &specJson);
// The method spec (toJson().dump()) that the quantize node's override parser reads from `text`
// over the node's default parameters; throws qb::Error as the parser does.
std::string parseOverride(const std::string &text);

// Quantizes a random [24, 64] layer with bias (calibrated on random inputs) with specJson through
// the table, rebuilds it through the table's load from copies of config() and tensors(), and
// compares. Empty on success, else what differs.
std::string reloadMismatch(const std::string &specJson);

// Quantizes a random [45, 192] layer with bias with specJson (uncalibrated methods) and runs 20
// input rows through forward() with the fused kernels on: beyond fusedMaxRows() the GEMM that
// decodes a 32-row panel eight rows at a time (a partial last panel of 13 rows here). Empty when
// that equals, bit for bit, dequantizedWeight() packed whole and multiplied by kernels/gemm_f32.h
// plus the bias, else what differs.
std::string panelGemmMismatch(const std::string &specJson);

// A QuantizedLinear whose fusedForward returns a marked result up to fusedMaxRows() rows and
// declines beyond: which path forward() took for 1, 6 (as [2, 3, in]) and 100 rows; how far the
// reference path is from x W^T + b (at::linear), and whether it equals it exactly with the fused
// kernels off; whether an input needing a gradient reached fusedForward.
struct SeamRun
{
    bool fused1 = false, fused6 = false, fused100 = true;
    double referenceDiff = 1;
    bool referenceExactUnfused = false;
    bool fusedWithGrad = true;
};
SeamRun fusedSeam();

} // namespace qbprobe
