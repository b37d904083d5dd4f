// Reading the answer out of a model's completion, following lm-eval's filters:
//   GSM8K strict      the first "#### N" (gsm8k) or "The answer is N" (gsm8k_cot), N matching
//                     -?[0-9.,]+; for gsm8k_direct (the prompt ends in "####") N opening the
//                     completion after blanks
//   GSM8K flexible    the last match of lm-eval's (-?[$0-9.,]{2,})|(-?[0-9]+)
//   GPQA              a letter A-D, see extractGpqa
// Extracted numbers are normalized as lm-eval's exact_match does (',' and '$' dropped, one
// trailing '.' dropped) and compared as strings with the gold. A match whose normalized text is
// not a plain number ("..", "1.2.3") is reported unparsed rather than as a wrong number; for
// accuracy this equals lm-eval (which scores it wrong), and the unparsed rate stays honest.
// One deliberate difference: lm-eval's CoT pattern "The answer is (N)." needs one more character
// after N and so reads "The answer is 33" at the very end of a text as "3"; we read 33.
// checkGsmAnswer / checkGpqaAnswer first set a reasoning model's thinking aside (splitThinking).
// The completion is expected to be cut at the stop sequences already (generation does that; see
// applyStopSequences for saved completions).
// Thread safety: free functions with no shared state.
#pragma once
#include "data/gpqa.h"
#include "data/prompts.h"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace qb::data {

struct Extraction
{
    std::string answer; // normalized number ("-1234", "3.5") or letter ("B"); empty if unparsed
    bool parsed = false;
};

Extraction extractGsmStrict(std::string_view completion);    // "#### N"
Extraction extractGsmCotStrict(std::string_view completion); // "The answer is N"
Extraction extractGsmDirectStrict(std::string_view completion); // N opening the completion
Extraction extractGsmFlexible(std::string_view completion);  // last number
// The strict rule of a GSM format (gsm8k, gsm8k_cot or gsm8k_direct).
Extraction extractGsmStrict(std::string_view completion, PromptFormat format);

// GPQA letter, trying in order (the first rule that finds a letter wins):
//   zero-shot only: the completion opens with "(B)" or "B" (after blanks), as " (B) 4 km" or " B."
//   1. "answer is (B)" / "answer is B" (any case), first occurrence -- lm-eval's strict filter
//   2. the last "(B)" anywhere -- lm-eval's flexible filter
//   3. the last "Answer: B" / "answer: (B)" (any case)
//   4. the choice whose text (lower case, punctuation dropped, whole words) occurs last
// Letters are A-D only. The strict variant stops after rule 1 (after the opening rule for
// zero-shot).
Extraction extractGpqa(std::string_view completion, const std::array<std::string, 4> &choices,
                       PromptFormat format);
Extraction extractGpqaStrict(std::string_view completion, PromptFormat format);

// Both filters of one completion and whether each equals the gold answer.
struct AnswerCheck
{
    Extraction strict;
    Extraction flexible;
    bool strictCorrect = false;
    bool flexibleCorrect = false;
    // Reasoning models: characters of the thinking set aside before extraction (ThinkSplit);
    // -1 when the completion has no thinking section.
    int64_t thinkChars = -1;
};

// Reasoning models (DeepSeek-R1 distills, Qwen3, ...) think before they answer, and the thinking
// holds intermediate numbers and letters that are not the answer. The text up to the last
// `thinkEnd` is set aside and only what follows it is the answer. A completion that opens a
// thinking section ("<think>") and never closes it ran out of tokens mid-thought: its answer is
// empty (unparsed). Without either tag the whole completion is the answer. thinkChars counts
// what was set aside (the tag included), -1 when there was no thinking section.
struct ThinkSplit
{
    std::string_view answer;
    int64_t thinkChars = -1;
};
ThinkSplit splitThinking(std::string_view completion, std::string_view thinkStart = "<think>",
                         std::string_view thinkEnd = "</think>");

// gold: GsmRecord::gold (already normalized). format: a GSM format (chooses the strict rule).
AnswerCheck checkGsmAnswer(std::string_view completion, const std::string &gold,
                           PromptFormat format);
AnswerCheck checkGpqaAnswer(std::string_view completion, const GpqaRecord &record,
                            PromptFormat format);

} // namespace qb::data
