// WordPiece as the Hugging Face WordPiece model does it (BERT): a piece longer than
// max_input_chars_per_word characters is the unknown token; otherwise it is cut greedily into the
// longest vocabulary entries from the left, every entry after the first looked up with the
// continuing prefix ("##ing"). If some position has no entry at all, the whole piece becomes one
// unknown token.
// Thread safety: immutable after construction; encodeWord may run concurrently.
#pragma once
#include "tokenizer/model.h"

namespace qb::tok {

class WordPieceModel : public Model
{
public:
    // unkId must be in vocab; fields: the model's other JSON keys, written back by toJson.
    WordPieceModel(std::unique_ptr<Vocab> vocab, std::int32_t unkId, std::string prefix,
                   std::size_t maxInputChars, nlohmann::ordered_json fields);

    void encodeWord(std::string_view word, std::vector<std::int32_t> &ids) const override;
    const Vocab &vocab() const override { return *m_vocab; }
    std::string type() const override { return "WordPiece"; }
    std::optional<std::int32_t> unkId() const override { return m_unkId; }
    nlohmann::ordered_json toJson() const override;

private:
    std::unique_ptr<Vocab> m_vocab;
    std::int32_t m_unkId;
    std::string m_prefix;
    std::size_t m_maxInputChars;
    nlohmann::ordered_json m_fields;
};

std::unique_ptr<Model> makeWordPiece(const nlohmann::json &j, const JsonWhere &where);

} // namespace qb::tok
