// Std-only bridge from tst_quant (Qt Test) to the torch-side quantization code in quant_probe.cpp.
// Matrices are row-major std::vector<float>.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace qbprobe {

using Mat = std::vector<float>;

struct OpRun
{
    Mat y;     // forward(x): [tokens, out]
    Mat dense; // denseWeight(): [out, in]
    Mat extra; // smoothquant: smoothing factors [in]; awq: input scales [in]
    int64_t weightBytes = 0;
    std::string kind;
    int64_t outliers = -1; // llm_int8: outlier columns of the last forward
    // IntGroupLinear, Nf4Linear: forward(x) of an op rebuilt from tensors() (the stored form),
    // and whether every tensor it returned was contiguous (Nf4Linear: and flattened)
    Mat reloadedY;
    bool tensorsContiguous = false;
};

// Quantizes w [out, in] with the method described by specJson (quantize node parameter names)
// using calibX [calibTokens, in] as calibration (may be empty), then runs x [tokens, in].
OpRun runOp(const std::string &specJson, const Mat &w, int64_t out, int64_t in, const Mat &x,
            int64_t tokens, const Mat &calibX = {}, int64_t calibTokens = 0);

// The op quantized as runOp does, run on x [tokens, in] requiring a gradient: the output
// (whether it requires one, its values), the same forward without gradients, and x's gradient
// for the loss sum(y · g), g [tokens, out].
struct GradRun
{
    bool requiresGrad = false;
    Mat y, yNoGrad, grad, dense;
};
GradRun gradThroughOp(const std::string &specJson, const Mat &w, int64_t out, int64_t in,
                      const Mat &x, int64_t tokens, const Mat &g);

// DenseLinear(w [out, in], bias [out] or empty).forward(x) for x of the given shape (its last
// dimension in); the output's values and shape.
struct DenseRun
{
    Mat y;
    std::vector<int64_t> shape;
};
DenseRun denseForward(const Mat &w, int64_t out, int64_t in, const Mat &bias, const Mat &x,
                      const std::vector<int64_t> &xShape);

// qb::fakeQuantizeActivations(x [rows, cols], bits) and the gradient of sum(g * result) with
// respect to x.
Mat actQuant(const Mat &x, int64_t rows, int64_t cols, int bits, const Mat &g, Mat *grad);

struct GptqRun
{
    std::vector<uint8_t> codes; // [out, in] stored order
    Mat scales;
    std::vector<uint8_t> zeros;
    std::vector<int64_t> perm;
    Mat dense; // effective weight [out, in]
};

// variant: "ref" (float64 loops), "blocked64" (blocked, float64), "blocked32" (blocked, float32).
GptqRun runGptq(const std::string &variant, const Mat &w, int64_t out, int64_t in, const Mat &x,
                int64_t tokens, int bits, int groupSize, bool symmetric, bool actOrder,
                bool staticGroups, int blockSize);

struct AwqRun
{
    std::vector<double> losses;
    int best = 0;
    Mat dense; // effective weight of the final op (with clipping)
};
AwqRun runAwq(bool reference, const Mat &w, int64_t out, int64_t in, const Mat &x, int64_t tokens,
              int bits, int groupSize, bool clip);

// A random tiny model is quantized with specJson plus overrides, saved, loaded back; returns the
// logits of `ids` from the quantized model before saving and after loading, and of the dense one.
struct RoundTrip
{
    Mat denseLogits, quantLogits, loadedLogits;
    int64_t bytesBefore = 0, bytesAfter = 0;
    std::vector<std::string> kindsBefore, kindsAfter;
    bool flaggedQuantized = false;
};
RoundTrip roundTrip(const std::string &specJson, const std::vector<std::string> &overrides,
                    const std::string &dir, bool tie);

bool glob(const std::string &pattern, const std::string &name);
// The names quantizeModel would choose on a 2-layer model.
std::vector<std::string> select(const std::vector<std::string> &include,
                                const std::vector<std::string> &exclude,
                                const std::vector<std::string> &overridePatterns, bool tie);

} // namespace qbprobe
