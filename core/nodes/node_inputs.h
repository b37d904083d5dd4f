// What nodes make of their input artifacts: a model artifact as a ModelBundle (its label and
// precision from the artifact that made it), a dataset artifact as evaluation questions.
// Free functions; call on the node's thread.
#pragma once
#include "api/registry.h"
#include "eval/question_set.h"
#include "model/model_bundle.h"

namespace qb {

ModelBundle loadModelBundle(const Artifact &model);

// The dataset's file (GSM8K jsonl or GPQA csv, per its "task") as prompts in `options`' formats.
eval::QuestionSet loadDatasetQuestions(const Artifact &dataset, const eval::PromptOptions &options);

} // namespace qb
