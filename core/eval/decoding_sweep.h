// The decoding sweep as a library: which settings a sweep visits (prompt style x temperature x
// top-p x top-k, greedy once per style) and, per model and dataset, one EvalRow per setting and
// self-consistency k. Efficiency: at each sampled setting the k_max samples of every question are
// drawn once (sampleAnswers) and maj@k for every smaller k is the vote over the first k of them
// (summarize), so maj@1, maj@5 and maj@9 cost nine passes, not fifteen; sample j of a question
// is the one a k-sample evaluate() draws for j < k (same seeds), so every row equals evaluate()
// run alone with that k. Every sampled setting uses the same seed (common random numbers: the
// comparisons between temperatures and precisions are paired).
// Runs on the calling thread and uses the model exclusively while it runs.
#pragma once
#include "api/results.h"
#include "api/work.h"
#include "eval/evaluator.h"

#include <functional>
#include <string>
#include <vector>

namespace qb::eval {

// "cot": the model reasons before answering (GSM: the given CoT-capable format, gsm8k or
// gsm8k_cot; GPQA: gpqa_cot_zeroshot). "direct": it answers at once (GSM: gsm8k_direct, whose
// prompt ends in "####"; GPQA: gpqa_zeroshot, "Answer:"). Throws qb::Error for other names.
PromptOptions promptOptionsFor(const std::string &style, const PromptOptions &cot);

struct SweepOptions
{
    std::vector<double> temperatures{0.0}; // 0 = greedy
    std::vector<double> topPs{1.0};
    std::vector<int64_t> topKs{0};
    std::vector<std::string> styles{"cot"};
    std::vector<int> samples{1}; // k of maj@k at sampled settings (greedy has k = 1 only)
    int64_t maxNewTokens = 256;
    int batchSize = 32;
    uint64_t seed = 0;

    // Throws qb::Error naming the parameter: empty lists, temperature < 0, top_p not in (0, 1],
    // top_k < 0, k < 1, unknown styles.
    void validate() const;
    int maxSamples() const;
};

struct SweepPoint
{
    std::string style;
    double temperature = 0;
    double topP = 1;
    int64_t topK = 0;

    bool greedy() const { return temperature == 0; }
};

// Per style in the given order: greedy first (when 0 is among the temperatures; top_p and top_k
// do not apply to it, so it is visited once), then every temperature > 0 (in the given order) x
// top_p x top_k. Duplicates are visited once.
std::vector<SweepPoint> sweepPoints(const SweepOptions &options);
DecodingConfig decodingFor(const SweepPoint &point, const SweepOptions &options);
// The k values measured at a point, ascending: {1} when greedy, else the options' (deduplicated).
std::vector<int> samplesAt(const SweepPoint &point, const SweepOptions &options);

// One row of a sweep with the report it summarises.
struct SweepCell
{
    EvalRow row; // measured columns and decoding filled; model, label, precision, dataset and
                 // records left to the caller
    EvalReport report;
};

// Every point and k on one model and dataset. questions(style) gives the set in that style's
// prompts. Each cell goes to onCell as soon as it is measured, rows of a point in ascending k;
// greedy accuracy (per style) is filled in once the greedy point has run. progress counts
// question-samples over the whole sweep of this model and dataset.
void sweepModel(const ModelRef &model,
                const std::function<QuestionSet(const std::string &style)> &questions,
                const SweepOptions &options, const WorkHooks &hooks,
                const std::function<void(SweepCell &&)> &onCell);

// question-samples sweepModel generates for a set of n questions (for progress totals).
double sweepWork(const SweepOptions &options, int64_t n);

} // namespace qb::eval
