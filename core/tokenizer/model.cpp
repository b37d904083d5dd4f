#include "tokenizer/model.h"

#include "tokenizer/bpe_model.h"
#include "tokenizer/wordpiece_model.h"

namespace qb::tok {

Vocab::Vocab(std::vector<std::string> byId, std::vector<bool> present)
    : m_tokens(std::move(byId)), m_present(std::move(present))
{
    m_ids.reserve(m_tokens.size());
    for (std::size_t id = 0; id < m_tokens.size(); ++id) {
        if (m_present[id])
            m_ids.emplace(m_tokens[id], static_cast<std::int32_t>(id));
    }
}

namespace {

class WordLevelModel : public Model
{
public:
    WordLevelModel(std::unique_ptr<Vocab> vocab, std::optional<std::int32_t> unkId,
                   std::string unkToken)
        : m_vocab(std::move(vocab)), m_unkId(unkId), m_unkToken(std::move(unkToken))
    {
    }

    void encodeWord(std::string_view word, std::vector<std::int32_t> &ids) const override
    {
        if (word.empty())
            return;
        if (const auto id = m_vocab->find(word)) {
            ids.push_back(*id);
        } else if (m_unkId) {
            ids.push_back(*m_unkId);
        } else {
            throw Error("tokenizer: word '" + std::string(word)
                        + "' is not in the WordLevel vocabulary, which has no unk_token");
        }
    }
    const Vocab &vocab() const override { return *m_vocab; }
    std::string type() const override { return "WordLevel"; }
    std::optional<std::int32_t> unkId() const override { return m_unkId; }

    nlohmann::ordered_json toJson() const override
    {
        nlohmann::ordered_json vocab = nlohmann::ordered_json::object();
        for (std::int32_t id = 0; id < m_vocab->size(); ++id) {
            if (const std::string *text = m_vocab->text(id))
                vocab[*text] = id;
        }
        return {{"type", "WordLevel"}, {"vocab", std::move(vocab)}, {"unk_token", m_unkToken}};
    }

private:
    std::unique_ptr<Vocab> m_vocab;
    std::optional<std::int32_t> m_unkId;
    std::string m_unkToken;
};

// model.type, or what the keys say for files written before the key existed (GPT-2's).
std::string modelType(const nlohmann::json &j, const JsonWhere &where)
{
    const std::string type = where.string(j, "type");
    if (!type.empty())
        return type;
    if (j.contains("merges"))
        return "BPE";
    if (j.contains("max_input_chars_per_word") || j.contains("continuing_subword_prefix"))
        return "WordPiece";
    const auto vocab = j.find("vocab");
    if (vocab != j.end() && vocab->is_array())
        return "Unigram";
    return "WordLevel";
}

std::pair<std::string, std::string> mergePair(const nlohmann::json &m, const JsonWhere &where)
{
    if (m.is_string()) {
        const std::string s = m.get<std::string>();
        const auto space = s.find(' ');
        if (space == std::string::npos || space == 0 || space + 1 >= s.size())
            where.fail("'" + s + "' is not of the form \"left right\"");
        return {s.substr(0, space), s.substr(space + 1)};
    }
    if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string())
        return {m[0].get<std::string>(), m[1].get<std::string>()};
    where.fail("must be \"left right\" or [\"left\", \"right\"]");
}

std::unique_ptr<Model> makeBpe(const nlohmann::json &j, const JsonWhere &where)
{
    if (!where.string(j, "continuing_subword_prefix").empty()
        || !where.string(j, "end_of_word_suffix").empty())
        where.fail("continuing_subword_prefix / end_of_word_suffix are not supported");
    auto vocab = std::make_unique<Vocab>(readVocab(j, where));
    const auto merges = j.find("merges");
    if (merges == j.end() || !merges->is_array())
        (where / "merges").fail("must be a list");
    std::vector<std::pair<std::int32_t, std::int32_t>> pairs;
    pairs.reserve(merges->size());
    for (std::size_t i = 0; i < merges->size(); ++i) {
        const JsonWhere at = (where / "merges")[i];
        const auto [left, right] = mergePair((*merges)[i], at);
        const auto a = vocab->find(left);
        const auto b = vocab->find(right);
        if (!a || !b || !vocab->find(left + right))
            at.fail("merges '" + left + "' and '" + right + "', which are not all in the vocab");
        pairs.emplace_back(*a, *b);
    }
    BpeModel::Options options;
    const std::string unk = where.string(j, "unk_token");
    if (!unk.empty()) {
        options.unkId = vocab->find(unk);
        if (!options.unkId)
            (where / "unk_token").fail("'" + unk + "' is not in the vocab");
    }
    options.fuseUnk = where.boolean(j, "fuse_unk", false);
    options.byteFallback = where.boolean(j, "byte_fallback", false);
    options.ignoreMerges = where.boolean(j, "ignore_merges", false);
    // dropout is a training-time regulariser; encoding is deterministic without it.
    nlohmann::ordered_json fields;
    for (const auto &[key, value] : j.items()) {
        if (key != "vocab" && key != "merges" && key != "quantbench")
            fields[key] = nlohmann::ordered_json::parse(value.dump());
    }
    return std::make_unique<BpeModel>(std::move(vocab), std::move(pairs), options,
                                      std::move(fields));
}

} // namespace

Vocab readVocab(const nlohmann::json &model, const JsonWhere &where)
{
    const auto it = model.find("vocab");
    const JsonWhere at = where / "vocab";
    if (it == model.end() || !it->is_object())
        at.fail("must be an object of token: id");
    std::size_t size = 0;
    for (const auto &[token, id] : it->items()) {
        if (!id.is_number_integer() || id.get<long long>() < 0
            || id.get<long long>() >= (1LL << 31))
            (at / token).fail("must be a non-negative integer id");
        size = std::max(size, static_cast<std::size_t>(id.get<long long>()) + 1);
    }
    std::vector<std::string> byId(size);
    std::vector<bool> present(size, false);
    for (const auto &[token, id] : it->items()) {
        const auto index = static_cast<std::size_t>(id.get<long long>());
        if (present[index])
            (at / token).fail("reuses id " + std::to_string(index) + " of '" + byId[index] + "'");
        byId[index] = token;
        present[index] = true;
    }
    return Vocab(std::move(byId), std::move(present));
}

std::unique_ptr<Model> makeModel(const nlohmann::json &j, const JsonWhere &where)
{
    if (!j.is_object())
        where.fail("must be an object");
    const std::string type = modelType(j, where);
    if (type == "BPE")
        return makeBpe(j, where);
    if (type == "WordPiece")
        return makeWordPiece(j, where);
    if (type == "WordLevel") {
        auto vocab = std::make_unique<Vocab>(readVocab(j, where));
        const std::string unk = where.string(j, "unk_token");
        std::optional<std::int32_t> unkId;
        if (!unk.empty())
            unkId = vocab->find(unk);
        return std::make_unique<WordLevelModel>(std::move(vocab), unkId, unk);
    }
    (where / "type").fail("'" + type + "' is not supported");
}

} // namespace qb::tok
