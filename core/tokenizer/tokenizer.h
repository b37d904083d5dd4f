// qb::Tokenizer: text <-> token ids for the built-in reasoner and for real checkpoints, read from a
// Hugging Face tokenizer.json with no dependency beyond the C++ standard library and nlohmann/json.
//
// Models: WordLevel (the built-in reasoner's, see makeWordLevel and tokenizer/builtin_words.h),
// byte-level BPE (GPT-2, Llama 3, Qwen2/2.5/3, SmolLM2) and SentencePiece-style BPE with byte
// fallback (Llama 2, Mistral), and WordPiece with BERT's normalizer, pre-tokenizer and decoder.
// Anything else is refused at load with a qb::Error naming the file and the JSON key path
// ("t5/tokenizer.json: model.type 'Unigram' is not supported").
//
// Encoding follows the reference library's pipeline: added tokens are cut out of the raw text
// first (longest match at the leftmost position), each stretch between them is normalized,
// pre-tokenized and encoded by the model, and with addSpecial the post-processor's prefix and
// suffix tokens (e.g. Llama 2's <s>) are added.
//
// Thread safety: a loaded Tokenizer is immutable; every const method may be called from any number
// of threads at once (the BPE word cache locks itself). Copies are cheap and share the tables.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qb {

namespace tok {
struct TokenizerImpl;
}

// Special tokens of a WordLevel tokenizer built in code. Empty names are left out; the ones given
// take ids 0, 1, ... in the order pad, bos, eos, unk, extra..., before the words.
struct SpecialTokenNames
{
    std::string pad;
    std::string bos;
    std::string eos;
    std::string unk;
    std::vector<std::string> extra;
};

class Tokenizer
{
public:
    // Reads path (a tokenizer.json) and, when present beside it, tokenizer_config.json (bos_token,
    // eos_token, pad_token, unk_token, chat_template, add_bos_token, add_eos_token) and
    // chat_template.jinja. Throws qb::Error on unreadable, malformed or unsupported files.
    static Tokenizer fromFile(const std::filesystem::path &path);
    // sourceName stands for the file in error messages.
    static Tokenizer fromJson(const std::string &json,
                              const std::string &sourceName = "tokenizer.json");

    // A WordLevel tokenizer over the built-in word format: specials first (see SpecialTokenNames),
    // then words in the order given (duplicates skipped). "\n" is always in the vocabulary.
    // With addSpecial, encode puts bos in front. A word outside the vocabulary encodes as unk;
    // without an unk name, encode throws qb::Error for it. Throws qb::Error for a word the
    // format's splitter would cut differently (e.g. "a b" or "19.") since it could never occur.
    static Tokenizer makeWordLevel(const std::vector<std::string> &words,
                                   const SpecialTokenNames &specials);
    // The built-in format's tokens of text (builtin_words.h), for building a vocabulary.
    static std::vector<std::string> splitBuiltinWords(std::string_view text);

    std::vector<std::int32_t> encode(std::string_view text, bool addSpecial = false) const;
    // Ids the tokenizer does not know are skipped; with skipSpecial so are special tokens.
    std::string decode(const std::vector<std::int32_t> &ids, bool skipSpecial = false) const;

    // The vocabulary string of id as stored (e.g. "Ġthe", "▁Hello", "<0x0A>"); empty if unknown.
    std::string tokenText(std::int32_t id) const;
    std::optional<std::int32_t> tokenId(std::string_view token) const;
    // One past the largest id of the model vocabulary and the added tokens.
    std::int32_t vocabSize() const;
    bool isSpecial(std::int32_t id) const;

    std::optional<std::int32_t> bosId() const;
    std::optional<std::int32_t> eosId() const;
    std::optional<std::int32_t> padId() const;
    std::optional<std::int32_t> unkId() const;
    // The Jinja chat template: chat_template.jinja if present, else tokenizer_config.json's
    // (a list of named templates gives "default", else the first); empty if none.
    const std::string &chatTemplate() const;
    // "WordLevel", "BPE" or "WordPiece".
    std::string modelType() const;

    // Writes a tokenizer.json that fromFile (and the Hugging Face library) reads back to the same
    // tokenizer; written atomically. Throws qb::Error when the file cannot be written.
    void save(const std::filesystem::path &path) const;

private:
    explicit Tokenizer(std::shared_ptr<const tok::TokenizerImpl> impl);

    std::shared_ptr<const tok::TokenizerImpl> m_impl;
};

} // namespace qb
