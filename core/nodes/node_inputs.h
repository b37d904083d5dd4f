// What nodes make of their input artifacts: a model artifact as a ModelBundle (its label and
// precision from the artifact that made it), a dataset artifact as evaluation questions.
// Free functions; call on the node's thread.
#pragma once
#include "api/node_context.h"
#include "api/registry.h"
#include "eval/question_set.h"
#include "model/model_bundle.h"
#include "train/train_state.h"

#include <vector>

namespace qb {

ModelBundle loadModelBundle(const Artifact &model);

// The dataset's file (GSM8K jsonl or GPQA csv, per its "task") as prompts in `options`' formats.
eval::QuestionSet loadDatasetQuestions(const Artifact &dataset, const eval::PromptOptions &options);

// The node's optional "fewshot" input (a GSM8K dataset, lm-eval's train split) as the pool gsm8k
// k-shot prompts draw from, into options.fewshotPool; returns the input's cache key, or null
// when nothing is connected.
nlohmann::json loadFewshotInput(NodeContext &ctx, eval::PromptOptions &options);

// The optional input itself, for node specs.
PortSpec fewshotInputSpec();

// The prompt formats a training node's parameters choose (gsm_format, gpqa_format), and those
// two parameters' specs.
eval::PromptOptions trainingPromptOptions(const nlohmann::json &params);
std::vector<ParamSpec> trainingPromptParams();

// What a training node (finetune, grpo) reads: its "model" input as a bundle, its "train"
// datasets and its "eval" datasets as held-out sets named by their node ids, in the prompt
// formats of its gsm_format / gpqa_format parameters.
struct TrainingInputs
{
    ModelBundle bundle;
    std::vector<eval::QuestionSet> train;
    std::vector<EvalSet> evalSets;
};
TrainingInputs loadTrainingInputs(NodeContext &ctx);

// The end of a training node, once the trained model is in its output folder: training.json (the
// summary with its label), one result row {model, task: the node type, label} plus each of
// rowKeys the summary has, and the trained model's artifact meta (label, precision, stage, base:
// the "model" input, weight bytes, trainable parameters).
Artifact finishTrainingNode(NodeContext &ctx, const ModelBundle &trained, nlohmann::json summary,
                            const std::string &label, const std::string &precision,
                            const std::string &stage, const std::vector<std::string> &rowKeys);

} // namespace qb
