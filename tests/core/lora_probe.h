// Std-only bridge from tst_lora (Qt Test) to the torch-side LoRA, QA-LoRA, PEFT and QAT code in
// lora_probe.cpp. Matrices are row-major std::vector<float>.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace qbprobe {

using Mat = std::vector<float>;

// y = LoraLinear(DenseLinear(w)) with A [r, in] and B [out, r] set to the given values.
Mat loraForward(const Mat &w, int out, int in, const Mat &a, const Mat &b, int r, double alpha,
                bool rslora, const Mat &x, int tokens);

// A fresh adapter (B = 0) over w quantized by specJson: is forward bit-identical to the base's?
bool zeroAdapterIsBase(const std::string &specJson);
// Inference forwards (no gradient) of a LoRA linear over a dense base see its adapters change:
// B scaled in place (the packed copy of B is made again), then A replaced by another tensor.
// Returns the largest deviation of the three outputs from base + scale · B A x by at::matmul.
double adapterChangesAreSeen();

struct GradRun
{
    bool aGrad = false, bGrad = false, xGrad = false, baseGrad = false;
    bool packedUnchanged = false, bChanged = false;
    Mat xGradient;                   // d sum(y) / dx, [tokens, in]
    std::vector<uint8_t> packed;     // the int4 base's qweight [out, in / 2]
    Mat scales;                      // [out, G]
    std::vector<uint8_t> zeros;      // [out, G]
    int out = 0, in = 0, groupSize = 0, tokens = 0;
};
// Asymmetric int4 g32 base under a LoRA; loss = sum(y); backward; one AdamW step on A and B.
GradRun gradientsOverInt4();

// A of a fresh adapter: max |a| and the sample variance.
void kaimingStats(int r, int in, uint64_t seed, double &maxAbs, double &variance);

// fakeQuantize(w) with symmetric int4 and the given per-group scales [out, in / group]; returns
// the values and d sum(fq) / dw, and LSQ's gradient for the scales.
void steInt4(const Mat &w, int out, int in, int group, const Mat &scales, Mat &values, Mat &grad,
             Mat &scaleGrad);

struct PeftRun
{
    std::vector<std::string> tensorNames; // of adapter_model.safetensors, sorted
    std::string configJson;               // adapter_config.json
    Mat adapted, loaded;                  // logits with the adapter, and after loading it
};
// A random tiny model from modelJson gets LoRA on `targets` with random A, B, saved to dir and
// loaded into a fresh copy of the base.
PeftRun peftRoundTrip(const std::string &modelJson, const std::vector<std::string> &targets,
                      const std::string &dir);

// Loads dir (written by peftRoundTrip, then corrupted by `mode`: missing_b, wrong_shape,
// rank_mismatch, unknown_module) into a fresh base; returns the error message ("" if none) and
// whether the model's logits stayed those of the base.
std::string loadCorrupted(const std::string &modelJson, const std::string &dir,
                          const std::string &mode, bool &unchanged);

struct MergeRun
{
    Mat adapted, merged;
    std::vector<double> relErrors;
};
// Tiny model quantized by specJson ("" = dense), LoRA with random A and B, then mergeLoraDense
// (quantized = false) or mergeLoraQuantized.
MergeRun mergeRun(const std::string &modelJson, const std::string &specJson, bool quantized);

struct QaRun
{
    Mat adapted, merged, reloaded;
    bool codesUnchanged = false;
    bool hasRealZeros = false;
};
// Asymmetric int4 g32, QA-LoRA g32 with random A and B, mergeQaLora, save/load the checkpoint.
QaRun qaLoraRun(const std::string &modelJson, const std::string &dir);

// applyQat + a few SGD steps + finishQat; the largest of the per-layer differences finishQat
// reports and the logits' change from the fake-quantized to the packed model (max |diff| over
// max |logit|).
double finishQatDiff(const std::string &modelJson, const std::string &specJson, bool learnScale);

} // namespace qbprobe
