#include "tokenizer/wordpiece_model.h"

#include "tokenizer/unicode.h"

namespace qb::tok {

WordPieceModel::WordPieceModel(std::unique_ptr<Vocab> vocab, std::int32_t unkId,
                               std::string prefix, std::size_t maxInputChars,
                               nlohmann::ordered_json fields)
    : m_vocab(std::move(vocab)), m_unkId(unkId), m_prefix(std::move(prefix)),
      m_maxInputChars(maxInputChars), m_fields(std::move(fields))
{
}

void WordPieceModel::encodeWord(std::string_view word, std::vector<std::int32_t> &ids) const
{
    if (word.empty())
        return;
    // Character boundaries: the greedy search only cuts between characters.
    std::vector<std::size_t> bounds;
    for (std::size_t pos = 0, len = 0; pos < word.size(); pos += len) {
        decodeUtf8(word, pos, len);
        bounds.push_back(pos);
    }
    bounds.push_back(word.size());
    if (bounds.size() - 1 > m_maxInputChars) {
        ids.push_back(m_unkId);
        return;
    }
    const std::size_t before = ids.size();
    std::string candidate;
    for (std::size_t start = 0; start + 1 < bounds.size();) {
        std::optional<std::int32_t> found;
        std::size_t end = bounds.size() - 1;
        for (; end > start; --end) {
            candidate.assign(start > 0 ? m_prefix : std::string());
            candidate.append(word.substr(bounds[start], bounds[end] - bounds[start]));
            if ((found = m_vocab->find(candidate)))
                break;
        }
        if (!found) {
            ids.resize(before);
            ids.push_back(m_unkId);
            return;
        }
        ids.push_back(*found);
        start = end;
    }
}

nlohmann::ordered_json WordPieceModel::toJson() const
{
    nlohmann::ordered_json out = m_fields;
    out["type"] = "WordPiece";
    nlohmann::ordered_json vocab = nlohmann::ordered_json::object();
    for (std::int32_t id = 0; id < m_vocab->size(); ++id) {
        if (const std::string *text = m_vocab->text(id))
            vocab[*text] = id;
    }
    out["vocab"] = std::move(vocab);
    return out;
}

std::unique_ptr<Model> makeWordPiece(const nlohmann::json &j, const JsonWhere &where)
{
    auto vocab = std::make_unique<Vocab>(readVocab(j, where));
    const std::string unk = where.string(j, "unk_token", "[UNK]");
    const auto unkId = vocab->find(unk);
    if (!unkId)
        (where / "unk_token").fail("'" + unk + "' is not in the vocab");
    const long long maxChars = where.integer(j, "max_input_chars_per_word", 100);
    if (maxChars <= 0)
        (where / "max_input_chars_per_word").fail("must be positive");
    nlohmann::ordered_json fields;
    for (const auto &[key, value] : j.items()) {
        if (key != "vocab" && key != "quantbench")
            fields[key] = nlohmann::ordered_json::parse(value.dump());
    }
    return std::make_unique<WordPieceModel>(std::move(vocab), *unkId,
                                            where.string(j, "continuing_subword_prefix", "##"),
                                            static_cast<std::size_t>(maxChars), std::move(fields));
}

} // namespace qb::tok
