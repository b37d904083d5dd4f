#include "tokenizer/normalizer.h"

#include "tokenizer/bert_text.h"
#include "tokenizer/nfc.h"

#include <vector>

namespace qb::tok {

void replaceAll(std::string &text, const std::string &from, const std::string &to)
{
    if (from.empty() || text.find(from) == std::string::npos)
        return;
    std::string out;
    out.reserve(text.size() + text.size() / 4);
    std::size_t pos = 0;
    for (std::size_t hit; (hit = text.find(from, pos)) != std::string::npos;) {
        out.append(text, pos, hit - pos).append(to);
        pos = hit + from.size();
    }
    out.append(text, pos, std::string::npos);
    text.swap(out);
}

namespace {

class SequenceNormalizer : public Normalizer
{
public:
    explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> steps)
        : m_steps(std::move(steps))
    {
    }
    void normalize(std::string &text) const override
    {
        for (const auto &step : m_steps)
            step->normalize(text);
    }

private:
    std::vector<std::unique_ptr<Normalizer>> m_steps;
};

class PrependNormalizer : public Normalizer
{
public:
    explicit PrependNormalizer(std::string prefix) : m_prefix(std::move(prefix)) {}
    void normalize(std::string &text) const override
    {
        if (!text.empty())
            text.insert(0, m_prefix);
    }

private:
    std::string m_prefix;
};

class ReplaceNormalizer : public Normalizer
{
public:
    ReplaceNormalizer(std::string from, std::string to)
        : m_from(std::move(from)), m_to(std::move(to))
    {
    }
    void normalize(std::string &text) const override { replaceAll(text, m_from, m_to); }

private:
    std::string m_from;
    std::string m_to;
};

class LowercaseNormalizer : public Normalizer
{
public:
    void normalize(std::string &text) const override
    {
        for (char &c : text) {
            if (c >= 'A' && c <= 'Z')
                c = static_cast<char>(c + 32);
        }
    }
};

class StripNormalizer : public Normalizer
{
public:
    StripNormalizer(bool left, bool right) : m_left(left), m_right(right) {}
    void normalize(std::string &text) const override
    {
        const char *ws = " \t\n\r\v\f";
        if (m_right)
            text.erase(text.find_last_not_of(ws) + 1);
        if (m_left)
            text.erase(0, std::min(text.find_first_not_of(ws), text.size()));
    }

private:
    bool m_left;
    bool m_right;
};

class NfcNormalizer : public Normalizer
{
public:
    void normalize(std::string &text) const override { composeNfc(text); }
};

class BertNormalizer : public Normalizer
{
public:
    explicit BertNormalizer(BertNormalizeOptions options) : m_options(options) {}
    void normalize(std::string &text) const override { bertNormalize(text, m_options); }

private:
    BertNormalizeOptions m_options;
};

} // namespace

std::unique_ptr<Normalizer> makeNormalizer(const nlohmann::json &j, const JsonWhere &where)
{
    if (j.is_null())
        return nullptr;
    const std::string type = where.typeOf(j);
    if (type == "Sequence") {
        const auto it = j.find("normalizers");
        if (it == j.end() || !it->is_array())
            (where / "normalizers").fail("must be a list");
        std::vector<std::unique_ptr<Normalizer>> steps;
        for (std::size_t i = 0; i < it->size(); ++i) {
            if (auto step = makeNormalizer((*it)[i], (where / "normalizers")[i]))
                steps.push_back(std::move(step));
        }
        return std::make_unique<SequenceNormalizer>(std::move(steps));
    }
    if (type == "Prepend")
        return std::make_unique<PrependNormalizer>(where.string(j, "prepend"));
    if (type == "Replace") {
        const auto pattern = j.find("pattern");
        if (pattern == j.end() || !pattern->is_object() || !pattern->contains("String"))
            (where / "pattern").fail("must be {\"String\": ...}; regex patterns are not supported");
        return std::make_unique<ReplaceNormalizer>((where / "pattern").string(*pattern, "String"),
                                                   where.string(j, "content"));
    }
    if (type == "Lowercase")
        return std::make_unique<LowercaseNormalizer>();
    if (type == "Strip")
        return std::make_unique<StripNormalizer>(where.boolean(j, "strip_left", true),
                                                 where.boolean(j, "strip_right", true));
    if (type == "NFC")
        return std::make_unique<NfcNormalizer>();
    if (type == "BertNormalizer") {
        BertNormalizeOptions options;
        options.cleanText = where.boolean(j, "clean_text", true);
        options.handleChineseChars = where.boolean(j, "handle_chinese_chars", true);
        options.lowercase = where.boolean(j, "lowercase", true);
        // strip_accents: null follows lowercase, as in the reference library.
        options.stripAccents = where.boolean(j, "strip_accents", options.lowercase);
        return std::make_unique<BertNormalizer>(options);
    }
    (where / "type").fail("'" + type + "' is not supported");
}

} // namespace qb::tok
