// QuestionSet: benchmark questions turned into prompts with their gold answers, the way
// lm-evaluation-harness builds them (data/prompts.h), ready for evaluate() (eval/evaluator.h).
// Plain data; the builders are pure functions.
#pragma once
#include "data/gpqa.h"
#include "data/gsm8k.h"
#include "data/prompts.h"

#include <filesystem>
#include <string>
#include <vector>

namespace qb::eval {

enum class Task { Gsm8k, Gpqa };
const char *taskName(Task task); // "gsm8k", "gpqa"
// Throws qb::Error naming the known tasks.
Task taskFromName(const std::string &name);

// One worked example as a conversation turn pair (lm-eval's --fewshot_as_multiturn): the shot's
// prompt text as the user's message, its target as the assistant's.
struct ChatShot
{
    std::string user, assistant;
};

struct EvalQuestion
{
    std::string id;
    std::string prompt;
    // The same prompt as a conversation: the shots (empty zero-shot) and the question's own text
    // ("Question: ..\nAnswer:"), which is `prompt` without the shots.
    std::vector<ChatShot> shots;
    std::string turn;
    std::string gold;      // GSM: the normalized number; GPQA: the letter
    data::GsmRecord gsm;   // Task::Gsm8k
    data::GpqaRecord gpqa; // Task::Gpqa
};

struct QuestionSet
{
    Task task = Task::Gsm8k;
    data::PromptFormat format = data::PromptFormat::Gsm8k;
    std::vector<EvalQuestion> questions;
};

struct PromptOptions
{
    data::PromptFormat gsmFormat = data::PromptFormat::Gsm8k;
    data::PromptFormat gpqaFormat = data::PromptFormat::GpqaZeroShot;
    // gsm8k_cot: how many of the standard exemplars; gsm8k: how many shots from fewshotPool.
    int numFewshot = 0;
    // gsm8k few-shot: the records shots are drawn from (lm-eval: the train split). Each question
    // gets its own numFewshot shots, data::fewShotIndices(pool, k, fewshotSeed + question index),
    // never the question itself; lm-eval also draws per question, with Python's RNG, so its
    // shots differ from these.
    std::vector<data::GsmRecord> fewshotPool;
    uint64_t fewshotSeed = 1234;
};

QuestionSet gsmQuestions(const std::vector<data::GsmRecord> &records, const PromptOptions &options);
QuestionSet gpqaQuestions(const std::vector<data::GpqaRecord> &records,
                          const PromptOptions &options);
// A GSM8K jsonl or GPQA csv file (GPQA choices shuffled with shuffleSeed).
QuestionSet loadQuestions(Task task, const std::filesystem::path &file,
                          const PromptOptions &options, uint64_t shuffleSeed);

} // namespace qb::eval
