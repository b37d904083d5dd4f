// Std-only bridge from tst_decoding_sweep (Qt Test) to the decoding sweep library
// (decoding_sweep_probe.cpp, torch side).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace sweepprobe {

struct Counts
{
    double meanThinkChars = -1;           // the row's mean_think_chars; -1 when it has none
    std::vector<int64_t> recordThink;     // records' think_chars; -1 when absent
    int64_t n = 0;
    int64_t correct = 0;         // strict, after the vote
    int64_t flexibleCorrect = 0;
    int64_t unparsed = 0;        // strict
    std::vector<std::string> strictAnswers; // per question, the vote's winner ("" unparsed)
};

// eval::summarize over hand-written GSM completions: question i has gold golds[i] and samples
// samples[i] (all questions the same count), voted over the first k. format: a GSM format name.
Counts summarizeHand(const std::string &format, const std::vector<std::string> &golds,
                     const std::vector<std::vector<std::string>> &samples, int k);

// The points a sweep visits, as "style T top_p top_k k1,k2" strings in visiting order.
std::vector<std::string> points(const std::vector<double> &temperatures,
                                const std::vector<double> &topPs,
                                const std::vector<int64_t> &topKs,
                                const std::vector<std::string> &styles,
                                const std::vector<int> &samples);

// One sweep row next to eval::evaluate run alone with the same setting.
struct Pair
{
    std::string sweepRow;     // EvalRow JSON from the sweep
    std::string evaluateRow;  // EvalRow JSON from evaluate()
    std::vector<std::string> sweepCompletions;    // every sample of every question, in order
    std::vector<std::string> evaluateCompletions;
};

// The shipped tiny-reasoner on the first n generated GSM-style test problems, swept over
// temperatures {0, temperature}, samples {1, k}, style cot, and each of the three rows
// (greedy, T maj@1, T maj@k) evaluated directly.
std::vector<Pair> sweepAgainstEvaluate(int n, double temperature, int k, uint64_t seed);

} // namespace sweepprobe
