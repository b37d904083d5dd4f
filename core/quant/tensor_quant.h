// Tensor-level quantization with an error report, std-only, for the CLI (`quantbench-cli quant
// tensor`) and other torch-free callers. Wraps quantizeLinear() (see method_spec.h).
// Thread safety: a pure function (uses torch's intra-op threads).
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace qb {

struct TensorQuantResult
{
    std::vector<float> dequantized; // [out, in] float32: the op's effective weight
    std::string label;              // e.g. "nf4-dq-b64"
    int64_t weightBytes = 0;        // stored bytes of the quantized weight
    double bitsPerParam = 0;        // 8 * weightBytes / (out * in)
    double weightRelError = 0;      // ||W - W_q||_F / ||W||_F
    bool hasOutput = false;         // the fields below are set when inputs were given
    double outputRelMse = 0;        // ||Y - Y_q||^2 / ||Y||^2, Y = X W^T, Y_q = op.forward(X)
    double sqnrDb = 0;              // 10 log10(||Y||^2 / ||Y - Y_q||^2)
    double cosine = 0;              // cos(Y, Y_q) over all elements
    double maxAbsError = 0;         // max |Y - Y_q|
    int64_t outlierColumns = -1;    // llm_int8: outlier input columns found in X

    nlohmann::json toJson() const; // the report written by the CLI
};

// weight: [out, in] row-major float32; x: [tokens, in] row-major float32 or empty (tokens 0).
// spec: the quantize node's method parameters (method and the method's own keys, see
// quant/method_registry.h; missing keys take the defaults). Methods that need calibration
// (gptq, awq, smoothquant) use x. Throws qb::Error for bad shapes and settings.
TensorQuantResult quantizeTensor(const std::vector<float> &weight, int64_t out, int64_t in,
                                 const std::vector<float> &x, int64_t tokens,
                                 const nlohmann::json &spec);

} // namespace qb
