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

// The prompt formats a training node's parameters choose (gsm_format, gpqa_format), and those
// two parameters' specs.
eval::PromptOptions trainingPromptOptions(const nlohmann::json &params);
std::vector<ParamSpec> trainingPromptParams();

// The node's "eval" inputs as held-out sets for periodic evaluation, named by their node ids.
std::vector<EvalSet> heldOutSets(NodeContext &ctx, const eval::PromptOptions &prompts);

} // namespace qb
