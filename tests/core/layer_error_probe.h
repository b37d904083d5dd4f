// Std-only bridge from tst_layer_error (Qt Test) to the torch side in layer_error_probe.cpp, which
// builds tiny random models (hidden 32), runs core/analysis on them and hands back plain numbers.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace qbprobe {

struct LinearRow
{
    std::string name, module, kind;
    int64_t layer = 0, tokens = 0, actOutlierChannels = 0;
    double weightRelMse = 0, relMse = 0, sqnrDb = 0, cosine = 0, maxAbs = 0, kl = 0;
    double actAbsmax = 0, actOutlierFraction = 0, kurtosis = 0;
};

struct ErrorRun
{
    std::vector<LinearRow> linears;
    std::vector<double> blockRel, blockCos;
    double klMean = 0, klMax = 0, pplRef = 0, pplQuant = 0;
    int64_t positions = 0, predicted = 0;
    // Plain forwards of both models on the calibration ids, for independent KL / perplexity.
    std::vector<float> refLogits, quantLogits; // [batch * seq, vocab]
    std::vector<int64_t> ids;                  // [batch * seq]
    int64_t sequences = 0, seq = 0, vocab = 0;
    std::vector<double> levels, edges;
    std::vector<int64_t> histRef, histQuant;
    std::string levelsSource, histogramLayer;
};

// The quantized model is a separate copy with the same weights.
ErrorRun identityCase();
// In the copy, layer `name`'s weight is multiplied by (1 + e).
ErrorRun scaledCase(const std::string &name, double e);
// The copy is quantized with specJson (quantize node keys); `layers` decoder blocks.
ErrorRun quantizedCase(const std::string &specJson, int layers, const std::string &histogramLayer);

// qb::weightKurtosis of w.
double kurtosis(const std::vector<float> &w);
// The kurtosis the analysis reports for model.layers.0.self_attn.o_proj when its reference weight
// is w [32, 32].
double reportedKurtosis(const std::vector<float> &w);

// Embeddings N(0, 1) and input_layernorm of block 0 all ones but channel `channel` = spike, so
// block 0's q_proj sees x = e / sqrt(mean(e^2) + eps) * w for each token's embedding e.
struct OutlierRun
{
    std::vector<float> embed; // [vocab, hidden]
    std::vector<float> norm;  // [hidden]
    int64_t vocab = 0, hidden = 0;
    double eps = 0;
    std::vector<int64_t> ids;
    LinearRow q;
};
OutlierRun outlierCase(int channel, float spike, double threshold);

struct SensitivityRun
{
    std::vector<std::string> names;
    std::vector<int64_t> in, out;
    std::vector<double> klLow, klHigh;
    std::vector<int64_t> lowBytes, highBytes;
    std::vector<double> curveBits, curveKl;
    std::vector<size_t> ranking;
    std::vector<bool> upgraded;
    double allocationBits = 0, allocationKl = 0;
    bool feasible = true;
    std::vector<std::string> overrides;
};
SensitivityRun sensitivityCase(const std::string &lowJson, const std::string &highJson,
                               double budget);

} // namespace qbprobe
