// Fine-tuning recipes over a loaded model bundle, written out plainly (torchtune style):
//   lora / qlora : LoRA adapters (train/lora.h) on the chosen linears of a frozen base — dense,
//                  or quantized and packed (QLoRA: the base stays packed, no float copy is kept);
//   qalora       : QA-LoRA adapters (input pooled per quantization group of an INT-k base), merged
//                  exactly into the base's zero points at the end;
//   qat          : quantization-aware training of the full-precision weights through
//                  fake-quantization with a straight-through estimator (train/fake_quant.h),
//                  ending in the real packed model of the chosen format.
// Data: prompt/answer pairs in lm-evaluation-harness format (GSM8K "Question: ..\nAnswer: <solution>"
// and GPQA worked answers), tokenized with the bundle's codec, loss on answer tokens only (or on
// every token). AdamW, warm-up + cosine or constant schedule, gradient clipping and accumulation;
// periodic greedy evaluation on held-out questions through the evaluation library; checkpoints in
// resumeDir that an interrupted run resumes from to the same final weights (data and dropout
// depend only on (seed, step)). Runs on the calling thread and uses the model exclusively.
#pragma once
#include "api/work.h"
#include "eval/question_set.h"
#include "model/model_bundle.h"
#include "quant/method_spec.h"
#include "train/lora.h"
#include "train/train_state.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace qb {

struct FinetuneRecipe
{
    std::string method = "qlora"; // "qlora" (= lora over any base), "qalora", "qat"
    LoraConfig lora;              // qlora / qalora
    MethodSpec qatSpec;           // qat: the format trained for and packed at the end
    bool learnScales = false;     // qat with method int: LSQ-style learned scales
    int64_t steps = 300;
    int64_t batchSize = 16;
    int64_t gradAccum = 1; // micro-batches of batchSize per optimizer step
    double lr = 1e-3;
    std::string schedule = "cosine"; // "cosine" (to 10% after warm-up) or "constant"
    int64_t warmup = 20;
    double maxGradNorm = 1.0;
    double weightDecay = 0.0;
    int64_t maxSeqLen = 256; // longer examples are cut (their answer tail is lost)
    bool answerOnly = true;  // loss on answer tokens only
    int64_t evalEvery = 100; // 0 = only at the end
    int64_t checkpointEvery = 50;
    uint64_t seed = 1234;

    static FinetuneRecipe fromJson(const nlohmann::json &params);
};

struct FinetuneHooks
{
    std::function<void(int64_t step, int64_t total, double loss, double lr, double gradNorm,
                       double tokensPerSec)> onStep;
    std::function<void(int64_t step, const std::string &dataset, double accuracy)> onEval;
    WorkHooks work; // log lines and cancellation
};

struct FinetuneResult
{
    nlohmann::json summary; // trainable parameters and fraction, adapter bytes, loss, minutes, ...
};

// Trains bundle.model in place; at the end the model holds the result: LoRA layers (qlora), the
// QA-LoRA-merged quantized layers (qalora) or the packed layers (qat). train: the examples'
// source questions (GSM or GPQA records with their solutions). Throws qb::Error for an empty
// training set or a recipe that does not fit the model, qb::Cancelled from hooks.work.
FinetuneResult finetune(ModelBundle &bundle, const FinetuneRecipe &recipe,
                        const std::vector<eval::QuestionSet> &train,
                        const std::vector<EvalSet> &evalSets,
                        const std::filesystem::path &resumeDir, const FinetuneHooks &hooks);

} // namespace qb
