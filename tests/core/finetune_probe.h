// Std-only bridge from tst_finetune (Qt Test) to the fine-tuning recipe (finetune_probe.cpp).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ftprobe {

struct Run
{
    std::vector<double> losses;   // per step
    std::vector<float> trainable; // every trained tensor, flattened in model order
    std::string summaryJson;
    std::string error; // what the recipe threw ("" when it finished)
    std::vector<float> logits;     // of a fixed prompt after training
    std::vector<float> reloaded;   // qlora: the same after save + loadModelBundle of the adapter
};

// A small random byte-level model (hidden 32, 2 layers) trained on generated GSM-style problems
// with `method` (qlora over int4 g32, qalora over int4 g32, or qat to int4 g32). With stopAt >= 0
// the run is cancelled after that step (as a killed run would stop); resumeDir keeps checkpoints.
Run runMicro(const std::string &method, int steps, double lr, int stopAt,
             const std::string &resumeDir, const std::string &workDir);

} // namespace ftprobe
