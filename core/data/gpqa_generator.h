// The built-in four-choice science questions, written in GPQA's CSV layout: unit conversions and
// one-formula physics/chemistry (speed, distance, density, Ohm's law, force, kinetic energy, molar
// mass from a small table). Each question has one right answer and three distractors made from
// the typical mistakes: inverted formula or conversion, wrong conversion factor, a power of ten
// off, a forgotten factor (1/2, a square, subscripts). All numbers go through formatQuantity.
//
// Determinism and splits follow the GSM generator: one DetRng stream per (seed, split), test
// split = stableHash(question) % 1000 < testPermille, duplicates skipped. Choices are then
// shuffled with shuffleGpqaChoices(record, seed), exactly as the loader would.
// Thread safety: free functions with no shared state.
#pragma once
#include "data/gpqa.h"
#include "data/gsm_generator.h"

#include <cstdint>
#include <string>
#include <vector>

namespace qb::data {

struct GpqaGeneratorOptions
{
    std::uint64_t seed = 1234;
    int testPermille = 200;
};

std::vector<GpqaRecord> generateGpqaRecords(const GpqaGeneratorOptions &options, Split split,
                                            int count);

// The names the generator's tables hold (compound names and formulas). A question about one
// compound may land only in the test split, so a vocabulary built from the training split
// alone would miss its name; a word-level tokenizer adds these.
std::vector<std::string> gpqaGeneratorNames();

// Four significant digits, trailing zeros dropped, no exponent between 1e-4 and 1e9:
// 50 -> "50", 0.0066667 -> "0.006667", 180.156 -> "180.2", 1234567 -> "1235000".
// Digits come from a correctly rounded "%.3e", which C requires of every conforming printf.
std::string formatQuantity(double value);

} // namespace qb::data
