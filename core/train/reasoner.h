// The built-in reasoner: presets of a small Llama-style model, the corpus it is pre-trained on
// (generated GSM-style problems in lm-eval's "Question: ..\nAnswer: <solution>" form and GPQA-style
// questions answered with a worked result, the choices checked against it and " The answer is
// (B)."), its word-level tokenizer, and the pre-training recipe with periodic
// greedy evaluation and resumable checkpoints. Runs on the calling thread.
#pragma once
#include "api/work.h"
#include "model/model_config.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <string>

namespace qb {

struct ReasonerRecipe
{
    std::string preset = "tiny-reasoner"; // "tiny-reasoner" or "micro"
    int64_t steps = 1200;
    int64_t batchSize = 64;
    double lr = 3e-3;
    int64_t warmup = 100;
    bool bf16 = false;
    bool numberFeatures = true; // factored number embeddings while training (train/number_features.h)
    int64_t evalEvery = 600;
    int64_t evalQuestions = 200;
    int64_t gsmExamples = 30000;
    int64_t gpqaExamples = 6000; // the generator holds ~6.1k distinct train questions (6,143)
    // Share of each batch drawn from the GPQA-style examples (drawn in proportion to their count
    // they would be a sixth of the batch, and their answers are shorter than a GSM solution).
    double gpqaShare = 0.35;
    // "gpqa_cot_zeroshot": the worked result, the choices checked up to the right one, the
    // letter (data/prompts.h); or "gpqa_zeroshot": the letter alone.
    std::string gpqaFormat = "gpqa_cot_zeroshot";
    int64_t maxValue = 99;
    uint64_t seed = 1234;
    int64_t checkpointEvery = 250;

    static ReasonerRecipe fromJson(const nlohmann::json &params);
    nlohmann::json toJson() const;
};

ModelConfig reasonerConfig(const std::string &preset, int64_t vocabSize);

struct ReasonerCallbacks
{
    std::function<void(int64_t step, int64_t total, double loss, double lr, double tokensPerSec)> onStep;
    std::function<void(int64_t step, const std::string &task, double accuracy)> onEval;
    WorkHooks work; // log lines and cancellation; progress comes through onStep
};

// Pre-trains the built-in reasoner and writes an HF folder (config.json, model.safetensors,
// tokenizer.json, training.json) to outDir. Checkpoints go to resumeDir (when not empty) and a run
// interrupted there resumes from its last checkpoint.
nlohmann::json pretrainReasoner(const ReasonerRecipe &recipe, const std::filesystem::path &outDir,
                                const std::filesystem::path &resumeDir,
                                const ReasonerCallbacks &callbacks);

} // namespace qb
