// Evaluation as a library: batched generation with stop strings, answer extraction and scoring
// (strict and flexible, as lm-evaluation-harness), self-consistency voting, per-question records
// and the summary with its Wilson 95% interval. Used by the evaluate node, the pre-training's
// periodic evaluation and (next) GRPO rewards and distributed evaluation of question slices.
// Runs on the calling thread and uses the model exclusively while it runs.
#pragma once
#include "api/decoding.h"
#include "api/results.h"
#include "api/work.h"
#include "data/answer_extract.h"
#include "eval/question_set.h"
#include "model/generation.h"
#include "model/model_bundle.h"

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace qb::eval {

// What evaluation needs of a model: the transformer, the one text codec, the end ids.
struct ModelRef
{
    Transformer &model;
    const TextCodec &codec;
    std::vector<int64_t> endTokens;
};
ModelRef refOf(const ModelBundle &bundle);

struct Completion
{
    std::vector<int64_t> ids; // generated ids, end token excluded
    std::string text;         // decoded and cut at the first stop string
};

// Completes prompts with batchSize rows decoded together (left-padded; finished rows refilled with
// waiting prompts when decoding.refill); a row also ends once its text holds a stop string.
// progress counts finished prompts; *seconds (when given) gets the time spent generating (prompt
// processing included) added, *stats (when given) the prompt tokens and the prefills' seconds.
std::vector<Completion> complete(const ModelRef &model, const std::vector<std::string> &prompts,
                                 const DecodingConfig &decoding,
                                 const std::vector<std::string> &stops, int batchSize,
                                 const WorkHooks &hooks = {}, double *seconds = nullptr,
                                 GenerationStats *stats = nullptr);

// Strict and flexible extraction of completion for question i of the set, against its gold.
data::AnswerCheck scoreCompletion(const QuestionSet &set, size_t i, const std::string &completion);

struct EvalOptions
{
    DecodingConfig decoding;
    int batchSize = 32;
    int samples = 1; // > 1: self-consistency, majority vote (needs decoding.strategy "sample")
};

struct QuestionRecord
{
    std::string id;
    std::string prompt;
    std::vector<std::string> completions; // one per sample
    data::Extraction strict;              // the vote's winner over the samples
    data::Extraction flexible;
    std::string gold;
    bool correct = false;
    bool flexibleCorrect = false;
    std::optional<double> stepsFraction; // GSM: reference steps reproduced by the first sample
    std::optional<int> chainLength;      // GSM: reasoning steps of the reference solution
    std::optional<int64_t> thinkChars;   // reasoning models: thinking set aside (first sample)

    // The records file's JSON object (keys as in records/*.jsonl).
    nlohmann::json toJson() const;
};

struct EvalSummary
{
    int64_t n = 0;
    int64_t correct = 0;
    int64_t flexibleCorrect = 0;
    int64_t unparsed = 0;
    int64_t generatedTokens = 0; // over every sample
    double seconds = 0;          // generating
    int64_t prefillTokens = 0;   // prompt tokens prefilled, over every sample
    double prefillSeconds = 0;   // of those prefills (a part of seconds)
    double stepSum = 0;          // GSM: sum of stepsFraction
    int samples = 1;
    std::map<int, std::pair<int64_t, int64_t>> byChain; // GSM: steps -> (n, correct)
    int64_t thinking = 0;   // completions (every sample) with a thinking section
    int64_t thinkChars = 0; // their thinking, characters

    double accuracy() const { return n ? double(correct) / n : 0.0; }
    // An EvalRow with every measured column filled; the caller sets model, label, precision,
    // dataset, weight bytes and the records file.
    EvalRow row(const QuestionSet &set) const;
};

struct EvalReport
{
    std::vector<QuestionRecord> records;
    EvalSummary summary;

    std::string recordsJsonl() const; // one JSON object a line
};

// The samples of every question before voting: sample k of every question comes from one
// generation pass over the set with seed decoding.seed + k * 1000003, so the first k samples of
// a set drawn with K >= k samples are exactly the samples a k-sample evaluation draws.
struct SampledAnswers
{
    std::vector<std::vector<Completion>> completions;   // [question][sample]
    std::vector<std::vector<data::AnswerCheck>> checks; // [question][sample]
    std::vector<double> passSeconds;                    // [sample]: time generating that pass
    std::vector<int64_t> passTokens;                    // [sample]: tokens generated in it
    std::vector<GenerationStats> passPrefill;           // [sample]: its prompts' prefills

    int samples() const { return static_cast<int>(passSeconds.size()); }
};

// options.samples generation passes over the set, each answer extracted and checked. Throws as
// evaluate(); progress counts question-samples.
SampledAnswers sampleAnswers(const ModelRef &model, const QuestionSet &set,
                             const EvalOptions &options, const WorkHooks &hooks = {});

// The report of majority voting over the first k samples of each question (maj@k; k = 1: the
// first sample alone). Throws qb::Error unless 1 <= k <= sampled.samples().
EvalReport summarize(const QuestionSet &set, const SampledAnswers &sampled, int k);

// sampleAnswers then summarize over every sample. Throws qb::Error for samples > 1 with greedy
// decoding (the samples would agree) and qb::Cancelled when hooks.checkCancelled does. progress
// counts question-samples.
EvalReport evaluate(const ModelRef &model, const QuestionSet &set, const EvalOptions &options,
                    const WorkHooks &hooks = {});

} // namespace qb::eval
