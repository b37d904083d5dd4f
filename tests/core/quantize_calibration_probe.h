// Std-only bridge from tst_quantize_calibration (Qt Test) to the torch side in
// quantize_calibration_probe.cpp: forwards of saved models and a re-quantization of a saved dense
// model with calibration sequences the test computed itself.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace qbprobe {

using Sequences = std::vector<std::vector<int64_t>>;

// Logits of the model folder `dir` (dense or quantized checkpoint) on equal-length sequences:
// [sequences * seq, vocab] row-major float32.
std::vector<float> logitsOf(const std::string &dir, const Sequences &sequences);

// Quantizes the dense model in baseDir with the quantize node's parameters paramsJson (the
// method keys, include, exclude, max_calibration_rows) calibrated on `sequences`, and returns the
// largest |difference| between its effective weights and those of the checkpoint in quantDir,
// over every linear layer; -1 when the two have different layers or layer kinds.
double requantizationGap(const std::string &baseDir, const std::string &quantDir,
                         const std::string &paramsJson, const Sequences &sequences);

} // namespace qbprobe
