// The built-in grade-school arithmetic word problems, written in GSM8K's jsonl format: one solution
// line per event of the story, restating it and spelling out the intermediate result ("He gives 5
// to Anna, so he has 19 - 5 = 14 apples."), and a final "#### N" line.
//
// Determinism: candidates come from one DetRng stream seeded by the options' seed; the same
// options give the same bytes on every platform. Splits: a candidate belongs to the test split
// when stableHash(question) % 1000 < testPermille, else to train, so the two splits can never share
// a question whatever the seeds or counts; duplicates within a split are skipped.
// Thread safety: free functions with no shared state.
#pragma once
#include "data/gsm8k.h"
#include "data/steps.h"

#include <cstdint>
#include <string>
#include <vector>

namespace qb::data {

enum class Split { Train, Test };

const char *splitName(Split split);

struct GsmGeneratorOptions
{
    std::uint64_t seed = 1234;
    int minSteps = 2;
    int maxSteps = 4;
    // Every value in a problem (start, operands, intermediate and final results) lies in
    // [0, maxValue]; a model with one token per integer 0..999 then sees each value as one token.
    int maxValue = 99;
    int maxOperand = 20; // added or subtracted amounts are 1..maxOperand
    int maxFactor = 3;   // multiplications are by 2..maxFactor
    int testPermille = 200; // share of the question space (by hash) that is the test split
};

struct GsmProblem
{
    GsmRecord record;
    int startValue = 0;
    std::vector<GsmStep> steps; // exactly the equations written in record.solution, in order
};

// The first count problems of the split. Throws qb::Error for options that cannot be met
// (maxValue < 10, minSteps < 1, minSteps > maxSteps, ...).
std::vector<GsmProblem> generateGsmProblems(const GsmGeneratorOptions &options, Split split,
                                            int count);

// The split a question belongs to: Test when stableHash(text) % 1000 < testPermille.
Split splitOf(const std::string &text, int testPermille);

std::vector<GsmRecord> recordsOf(const std::vector<GsmProblem> &problems);

} // namespace qb::data
