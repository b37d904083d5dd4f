#include "tokenizer/decoder.h"

#include "tokenizer/builtin_words.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/unicode.h"

namespace qb::tok {

namespace {

std::string joined(const std::vector<std::string> &tokens, const std::string &separator)
{
    std::string out;
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        if (i > 0)
            out += separator;
        out += tokens[i];
    }
    return out;
}

class SequenceDecoder : public Decoder
{
public:
    explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> steps)
        : m_steps(std::move(steps))
    {
    }
    void decode(std::vector<std::string> &tokens) const override
    {
        for (const auto &step : m_steps)
            step->decode(tokens);
    }

private:
    std::vector<std::unique_ptr<Decoder>> m_steps;
};

class SpaceJoinDecoder : public Decoder
{
public:
    void decode(std::vector<std::string> &tokens) const override
    {
        tokens = {joined(tokens, " ")};
    }
};

class BuiltinWordsDecoder : public Decoder
{
public:
    void decode(std::vector<std::string> &tokens) const override
    {
        tokens = {joinBuiltinWords(tokens)};
    }
};

class ByteLevelDecoder : public Decoder
{
public:
    void decode(std::vector<std::string> &tokens) const override
    {
        for (std::string &token : tokens) {
            std::string bytes;
            bytes.reserve(token.size());
            bool mapped = true;
            for (std::size_t pos = 0, len = 0; pos < token.size(); pos += len) {
                const int b = unicodeToByte(decodeUtf8(token, pos, len));
                if (b < 0) {
                    mapped = false;
                    break;
                }
                bytes += static_cast<char>(b);
            }
            // A token outside the byte alphabet (an added token such as "<|im_start|>" with odd
            // characters) is kept as written, as the reference library does.
            if (mapped)
                token.swap(bytes);
        }
    }
};

class ReplaceDecoder : public Decoder
{
public:
    ReplaceDecoder(std::string from, std::string to)
        : m_from(std::move(from)), m_to(std::move(to))
    {
    }
    void decode(std::vector<std::string> &tokens) const override
    {
        for (std::string &token : tokens)
            replaceAll(token, m_from, m_to);
    }

private:
    std::string m_from;
    std::string m_to;
};

int hexValue(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

class ByteFallbackDecoder : public Decoder
{
public:
    void decode(std::vector<std::string> &tokens) const override
    {
        // "<0xE2>" "<0x96>" "<0x81>" become the bytes they name; consecutive byte tokens are
        // gathered into one string so that a multi-byte character comes out whole.
        std::vector<std::string> out;
        out.reserve(tokens.size());
        bool lastWasByte = false;
        for (std::string &token : tokens) {
            const bool isByte = token.size() == 6 && token.compare(0, 3, "<0x") == 0
                && token[5] == '>' && hexValue(token[3]) >= 0 && hexValue(token[4]) >= 0;
            if (!isByte) {
                out.push_back(std::move(token));
                lastWasByte = false;
                continue;
            }
            const char byte = static_cast<char>(hexValue(token[3]) * 16 + hexValue(token[4]));
            if (lastWasByte)
                out.back() += byte;
            else
                out.emplace_back(1, byte);
            lastWasByte = true;
        }
        tokens.swap(out);
    }
};

class FuseDecoder : public Decoder
{
public:
    void decode(std::vector<std::string> &tokens) const override { tokens = {joined(tokens, "")}; }
};

class StripDecoder : public Decoder
{
public:
    StripDecoder(std::string content, int start, int stop)
        : m_content(std::move(content)), m_start(start), m_stop(stop)
    {
    }
    void decode(std::vector<std::string> &tokens) const override
    {
        if (m_content.empty())
            return;
        const std::size_t n = m_content.size();
        for (std::string &token : tokens) {
            for (int i = 0; i < m_start && token.compare(0, n, m_content) == 0; ++i)
                token.erase(0, n);
            for (int i = 0; i < m_stop && token.size() >= n
                 && token.compare(token.size() - n, n, m_content) == 0;
                 ++i)
                token.erase(token.size() - n);
        }
    }

private:
    std::string m_content;
    int m_start;
    int m_stop;
};

class MetaspaceDecoder : public Decoder
{
public:
    MetaspaceDecoder(std::string replacement, bool stripFirst)
        : m_replacement(std::move(replacement)), m_stripFirst(stripFirst)
    {
    }
    void decode(std::vector<std::string> &tokens) const override
    {
        for (std::size_t i = 0; i < tokens.size(); ++i) {
            replaceAll(tokens[i], m_replacement, " ");
            if (i == 0 && m_stripFirst && !tokens[i].empty() && tokens[i][0] == ' ')
                tokens[i].erase(0, 1);
        }
    }

private:
    std::string m_replacement;
    bool m_stripFirst;
};

// Pieces after the first lose the continuing prefix or gain a space; cleanup then undoes the
// spaces BERT's pre-tokenizer put around punctuation and English contractions, token by token.
class WordPieceDecoder : public Decoder
{
public:
    WordPieceDecoder(std::string prefix, bool cleanup)
        : m_prefix(std::move(prefix)), m_cleanup(cleanup)
    {
    }
    void decode(std::vector<std::string> &tokens) const override
    {
        static const std::pair<const char *, const char *> kCleanup[] = {
            {" .", "."},         {" ?", "?"},     {" !", "!"},     {" ,", ","},
            {" ' ", "'"},        {" n't", "n't"}, {" 'm", "'m"},   {" do not", " don't"},
            {" 's", "'s"},       {" 've", "'ve"}, {" 're", "'re"},
        };
        for (std::size_t i = 0; i < tokens.size(); ++i) {
            std::string &t = tokens[i];
            if (i > 0) {
                if (!m_prefix.empty() && t.compare(0, m_prefix.size(), m_prefix) == 0)
                    t.erase(0, m_prefix.size());
                else
                    t.insert(0, " ");
            }
            if (m_cleanup) {
                for (const auto &[from, to] : kCleanup)
                    replaceAll(t, from, to);
            }
        }
    }

private:
    std::string m_prefix;
    bool m_cleanup;
};

} // namespace

std::unique_ptr<Decoder> makeBuiltinWordsDecoder()
{
    return std::make_unique<BuiltinWordsDecoder>();
}

std::unique_ptr<Decoder> makeDecoder(const nlohmann::json &j, const JsonWhere &where)
{
    if (j.is_null())
        return std::make_unique<SpaceJoinDecoder>();
    const std::string type = where.typeOf(j);
    if (type == "Sequence") {
        const auto it = j.find("decoders");
        if (it == j.end() || !it->is_array())
            (where / "decoders").fail("must be a list");
        std::vector<std::unique_ptr<Decoder>> steps;
        for (std::size_t i = 0; i < it->size(); ++i)
            steps.push_back(makeDecoder((*it)[i], (where / "decoders")[i]));
        return std::make_unique<SequenceDecoder>(std::move(steps));
    }
    if (type == "ByteLevel")
        return std::make_unique<ByteLevelDecoder>();
    if (type == "Replace") {
        const auto pattern = j.find("pattern");
        if (pattern == j.end() || !pattern->is_object() || !pattern->contains("String"))
            (where / "pattern").fail("must be {\"String\": ...}; regex patterns are not supported");
        return std::make_unique<ReplaceDecoder>((where / "pattern").string(*pattern, "String"),
                                                where.string(j, "content"));
    }
    if (type == "ByteFallback")
        return std::make_unique<ByteFallbackDecoder>();
    if (type == "Fuse")
        return std::make_unique<FuseDecoder>();
    if (type == "Strip")
        return std::make_unique<StripDecoder>(where.string(j, "content", " "),
                                              static_cast<int>(where.integer(j, "start", 0)),
                                              static_cast<int>(where.integer(j, "stop", 0)));
    if (type == "WordPiece")
        return std::make_unique<WordPieceDecoder>(where.string(j, "prefix", "##"),
                                                  where.boolean(j, "cleanup", true));
    if (type == "Metaspace") {
        bool stripFirst = where.boolean(j, "add_prefix_space", true);
        const std::string scheme = where.string(j, "prepend_scheme");
        if (!scheme.empty())
            stripFirst = scheme != "never";
        return std::make_unique<MetaspaceDecoder>(where.string(j, "replacement", "\xE2\x96\x81"),
                                                  stripFirst);
    }
    (where / "type").fail("'" + type + "' is not supported");
}

} // namespace qb::tok
