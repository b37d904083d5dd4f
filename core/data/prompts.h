// Prompt formats, matching lm-evaluation-harness (lm-eval) so that numbers for real checkpoints
// compare with published ones:
//   gsm8k             "Question: <q>\nAnswer:"  target " <full solution>", k-shot from train,
//                     examples joined by "\n\n" (lm-eval: target_delimiter " ",
//                     fewshot_delimiter "\n\n"; it draws shots at random with Python's RNG, which
//                     we cannot reproduce, so the caller passes the shots, e.g. fewShotIndices()).
//   gsm8k_cot         "Q: <q>\nA:"  targets end "The answer is N."; the default shots are the
//                     eight chain-of-thought exemplars of Wei et al. (2022) that lm-eval uses.
//   gsm8k_direct      "Question: <q>\nAnswer: ####" -- a direct answer, no reasoning: the prompt
//                     ends in the final-answer marker of a GSM8K solution, so the completion is
//                     the number alone (not an lm-eval task; the decoding sweep's "direct" style).
//   gpqa_zeroshot     "What is the correct answer to this question:<q>\nChoices:\n(A) ..\n(B) ..
//                     \n(C) ..\n(D) ..\nAnswer:" -- no space after "question:", as in lm-eval
//                     (it scores " (A)".." (D)" by likelihood; we also allow generating).
//   gpqa_cot_zeroshot same body, ending "Let's think step by step: " (trailing space included).
// Stop sequences cut generation (the model's job, not the extractor's): see stopSequences().
// Thread safety: free functions with no shared state.
#pragma once
#include "data/gpqa.h"
#include "data/gsm8k.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace qb::data {

enum class PromptFormat { Gsm8k, Gsm8kCot, Gsm8kDirect, GpqaZeroShot, GpqaCot };

// "gsm8k", "gsm8k_cot", "gsm8k_direct", "gpqa_zeroshot", "gpqa_cot_zeroshot"; fromName throws qb::Error listing
// the valid names.
const char *promptFormatName(PromptFormat format);
PromptFormat promptFormatFromName(std::string_view name);
bool isGsmFormat(PromptFormat format);

struct CotExemplar
{
    std::string question;
    std::string target; // ends "The answer is N."
};

// "Question: <q>\nAnswer:", preceded by the shots as "Question: ..\nAnswer: <solution>\n\n".
std::string gsm8kPrompt(std::string_view question, const std::vector<GsmRecord> &shots = {});

// "Question: <q>\nAnswer: ####" (gsm8k_direct).
std::string gsm8kDirectPrompt(std::string_view question);

// "Q: <q>\nA:", preceded by the exemplars as "Q: ..\nA: <target>\n\n".
std::string gsm8kCotPrompt(std::string_view question, const std::vector<CotExemplar> &shots);

// The eight Wei et al. exemplars (lm-eval's gsm8k_cot default, num_fewshot 8).
const std::vector<CotExemplar> &standardCotExemplars();

// A GSM8K solution rewritten as a CoT target: calculator annotations and the "#### N" line
// removed, lines joined by spaces, then " The answer is N." appended.
std::string cotTarget(const GsmRecord &record);
CotExemplar toCotExemplar(const GsmRecord &record);

std::string gpqaPrompt(const GpqaRecord &record, PromptFormat format);

// lm-eval's likelihood continuations for zero-shot GPQA: " (A)", " (B)", " (C)", " (D)".
std::vector<std::string> gpqaChoiceContinuations();

// The target a model is trained on after the prompt (with its leading delimiter): " <solution>"
// for gsm8k, " <cotTarget>" for gsm8k_cot, " N" for gsm8k_direct, " (B)" for gpqa_zeroshot, and for gpqa_cot_zeroshot
// the explanation, then the choices checked in order up to the right one, then the letter:
// "<explanation> (A) 48 km: no. (B) 480 km: yes. The answer is (B)." Checking each choice
// against the worked result keeps the letter one look back (the last one written) instead of a
// search of the prompt for the choice that holds the result: a 300-step run wrote the right
// result in 70% of its answers but picked its letter in only 53% of those.
std::string gsmTarget(const GsmRecord &record, PromptFormat format);
std::string gpqaTarget(const GpqaRecord &record, PromptFormat format);

// Generation stops at the first of these (lm-eval's `until`): gsm8k {"Question:", "</s>",
// "<|im_end|>"}, gsm8k_cot {"Q:", "</s>", "<|im_end|>"}, gsm8k_direct
// {"\n", "Question:", "</s>", "<|im_end|>"} (the answer is one line), gpqa_cot_zeroshot {"</s>"}. For
// gpqa_zeroshot, which lm-eval scores by likelihood, generating stops at {"\n\n", "</s>",
// "<|im_end|>"}. Older lm-eval gsm8k versions also stopped at "\n\n"; with k-shot prompts a model
// that writes "\n\nQuestion:" is stopped by "Question:" anyway.
std::vector<std::string> stopSequences(PromptFormat format);

// Cuts text at the earliest stop sequence. Generation already does this; scoring saved
// completions that were not cut uses it.
std::string applyStopSequences(std::string_view text, const std::vector<std::string> &stops);

// k distinct indices from [0, poolSize) for few-shot examples: a partial Fisher-Yates with
// DetRng(seed), so the same seed picks the same shots everywhere. k is clamped to poolSize.
std::vector<std::size_t> fewShotIndices(std::size_t poolSize, int k, std::uint64_t seed);

} // namespace qb::data
