// Error analysis of a quantized model against its reference, layer by layer and block by block, on
// calibration token sequences:
//   - every linear layer (by HF name): the layer's output on the activations that reach it in the
//     *reference* model, computed by the reference op and by the quantized model's op. Each
//     reference linear is wrapped during one reference forward by a comparing op that runs both and
//     passes the reference output on, so every layer sees reference inputs and its error is its own
//     (not propagated). Outlier statistics of those inputs and the weight's kurtosis come along;
//     optionally the KL of the reference with only this layer swapped for its quantized op;
//   - every decoder block: the quantized model's residual stream after the block against the
//     reference's (error propagated through the network);
//   - the model: mean KL(reference || quantized) of the next-token distributions over every
//     position, and the perplexity of both models on the sequences;
//   - a weight histogram of one layer with its quantization levels (weight_histogram.h).
// Formulas are on the fields below. Sums are accumulated in float64.
// Thread safety: mutates both models temporarily (ops are swapped and restored before returning,
// also on exceptions); nothing else may use them meanwhile. Runs on the calling thread.
#pragma once
#include "analysis/weight_histogram.h"
#include "api/work.h"
#include "model/transformer.h"

#include <ATen/ATen.h>

#include <functional>
#include <limits>
#include <string>
#include <vector>

namespace qb {

// Running sums for comparing a reference output Y with a test output Yq (any shapes, same numel).
struct OutputErrorSums
{
    double ref2 = 0;   // sum Y^2
    double test2 = 0;  // sum Yq^2
    double diff2 = 0;  // sum (Yq - Y)^2
    double dot = 0;    // sum Y Yq
    double maxAbs = 0; // max |Yq - Y|

    void add(const at::Tensor &y, const at::Tensor &yq);
    double relMse() const;  // diff2 / ref2 (0 when both are 0, +inf when only ref2 is)
    double sqnrDb() const;  // 10 log10(ref2 / diff2); +inf when diff2 == 0
    double cosine() const;  // dot / sqrt(ref2 test2); 1 when both are all zero
};

struct LinearError
{
    std::string name;       // HF name, e.g. "model.layers.3.mlp.down_proj"
    int64_t layer = -1;     // decoder block; num_layers for lm_head
    std::string module;     // last name component: "q_proj", ..., "down_proj", "lm_head"
    std::string kind;       // the quantized op's kind(), e.g. "nf4-b64", "dense"
    int64_t tokens = 0;     // input rows seen
    double weightRelMse = 0; // ||Wq - W||_F^2 / ||W||_F^2 with Wq = quantized denseWeight()
    double outputRelMse = 0; // ||Yq - Y||^2 / ||Y||^2 over all calibration rows (bias included)
    double sqnrDb = 0;       // 10 log10(||Y||^2 / ||Yq - Y||^2) = -10 log10(outputRelMse)
    double cosine = 0;       // <Y, Yq> / (||Y|| ||Yq||) over all elements
    double maxAbsError = 0;  // max |Yq - Y|
    double kl = std::numeric_limits<double>::quiet_NaN(); // mean KL, only this layer quantized
    double actAbsmax = 0;          // max over input channels j of max over rows |x_j|
    double actOutlierFraction = 0; // fraction of input entries with |x| >= threshold
    int64_t actOutlierChannels = 0; // input channels with some |x| >= threshold
    double weightKurtosis = 0;      // of the reference weight (weightKurtosis())
};

struct BlockError
{
    int64_t layer = 0;
    double relError = 0; // ||Hq - H||_F^2 / ||H||_F^2 over all tokens, H: [tokens, hidden]
    double cosine = 0;   // mean over tokens of cos(h_t, hq_t)
};

struct ModelError
{
    double klMean = 0; // mean over positions of KL(p || q) = sum_v p_v (log p_v - log q_v), nats
    double klMax = 0;  // largest per-position KL
    int64_t positions = 0;
    double pplReference = 0; // exp(mean NLL of token t+1 given tokens <= t), t < seq_len - 1
    double pplQuantized = 0;
    int64_t predicted = 0; // positions the perplexities average over
};

struct LayerErrorOptions
{
    double outlierThreshold = 6.0; // |x| >= this counts as an outlier (LLM.int8()'s default)
    bool layerKl = true;           // also the KL with each layer quantized alone (1 pass each)
    std::string histogramLayer;    // empty: the first linear layer
    int histogramBins = 64;
};

struct LayerErrorReport
{
    std::vector<LinearError> linears; // model order
    std::vector<BlockError> blocks;
    ModelError model;
    WeightHistogram histogram;
};

// Pearson kurtosis m4 / m2^2 of all elements (m_k: central moments, population); 3 for a
// Gaussian, NaN when all elements are equal. w: any shape, float32.
double weightKurtosis(const at::Tensor &w);

// KL(softmax(ref) || softmax(test)) per position: logits [..., vocab] float32 -> [positions]
// float64 (computed in float64; tiny negative rounding results are clamped to 0).
at::Tensor klPerPosition(const at::Tensor &refLogits, const at::Tensor &testLogits);

// batches: [batch, seq] int64 ids (calibration.h). The models must have the same architecture and
// linear names. Progress counts model passes; hooks.checkCancelled may throw qb::Cancelled. Throws qb::Error for mismatched models,
// an unknown histogram layer or no batches.
LayerErrorReport analyzeLayerError(Transformer &reference, Transformer &quantized,
                                   const std::vector<at::Tensor> &batches,
                                   const LayerErrorOptions &options = {},
                                   const WorkHooks &hooks = {});

// "model.layers.3.mlp.down_proj" -> (3, "down_proj"); "lm_head" -> (numLayers, "lm_head").
std::pair<int64_t, std::string> layerAndModule(const std::string &name, int64_t numLayers);

} // namespace qb
