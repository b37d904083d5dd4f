// The pre-tokenizer split patterns QuantBench understands, each a hand-written scanner that gives
// the same pieces as the regex it stands for (std::regex has no \p{L}; we do not ship a regex
// engine). A Hugging Face file names its pattern as a regex string; matcherForRegex recognises the
// known strings exactly and returns nothing for any other, so the loader can refuse it clearly.
//
// Known patterns: GPT-2's ByteLevel regex, the Llama-3 regex (\p{N}{1,3}), the Qwen2 regex
// (\p{N}), and QuantBench's built-in word pattern (see builtin_words.h).
// Thread safety: pure functions.
#pragma once
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qb::tok {

struct Span
{
    std::size_t begin = 0;
    std::size_t end = 0;
};

// Appends the pattern's matches in text to spans: ascending, non-overlapping, non-empty.
using Matcher = std::function<void(std::string_view text, std::vector<Span> &spans)>;

extern const char kGpt2Regex[];
extern const char kLlama3Regex[];
extern const char kQwen2Regex[];

std::optional<Matcher> matcherForRegex(const std::string &regex);

// A literal pattern (Split with {"String": ...}): every non-overlapping occurrence, left to right.
Matcher literalMatcher(std::string literal);

void gpt2Matches(std::string_view text, std::vector<Span> &spans);
// The Llama-3 / Qwen2 family; maxDigits is 3 for Llama 3 (\p{N}{1,3}) and 1 for Qwen2 (\p{N}).
void llama3Matches(std::string_view text, std::vector<Span> &spans, int maxDigits);
// HF's Whitespace pre-tokenizer regex \w+|[^\w\s]+.
void wordOrSymbolMatches(std::string_view text, std::vector<Span> &spans);
// Runs of whitespace (what WhitespaceSplit removes).
void whitespaceMatches(std::string_view text, std::vector<Span> &spans);
// Numbers (\p{N}): each one alone when individual, else maximal runs.
void digitMatches(std::string_view text, std::vector<Span> &spans, bool individual);
// Single punctuation characters (ASCII punctuation and symbols).
void punctuationMatches(std::string_view text, std::vector<Span> &spans);
// Each character BERT counts as punctuation (bert_text.h), one span per character.
void bertPunctuationMatches(std::string_view text, std::vector<Span> &spans);

} // namespace qb::tok
