#include "model/text_codec.h"

#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace qb {

namespace {

class ByteCodec : public TextCodec
{
public:
    std::vector<int64_t> encode(const std::string &text) const override
    {
        std::vector<int64_t> ids;
        ids.reserve(text.size());
        for (unsigned char c : text)
            ids.push_back(c);
        return ids;
    }
    std::string decode(const std::vector<int64_t> &ids) const override
    {
        std::string out;
        for (int64_t id : ids)
            if (id >= 0 && id < 256)
                out += static_cast<char>(id);
        return out;
    }
    std::string name() const override { return "bytes"; }
};

class TokenizerCodec : public TextCodec
{
public:
    explicit TokenizerCodec(Tokenizer tok) : m_tok(std::move(tok)) {}
    std::vector<int64_t> encode(const std::string &text) const override
    {
        const auto ids = m_tok.encode(text);
        return {ids.begin(), ids.end()};
    }
    std::string decode(const std::vector<int64_t> &ids) const override
    {
        return m_tok.decode({ids.begin(), ids.end()}, /*skipSpecial=*/true);
    }
    std::string name() const override { return "tokenizer.json (" + m_tok.modelType() + ")"; }
    std::string chatTemplate() const override { return m_tok.chatTemplate(); }

private:
    Tokenizer m_tok;
};

// For a model that has no way to turn text into ids: weight-only work (quantizing without
// calibration, saving) goes on; any use of text fails with the reason.
class UnavailableCodec : public TextCodec
{
public:
    explicit UnavailableCodec(std::string reason) : m_reason(std::move(reason)) {}
    std::vector<int64_t> encode(const std::string &) const override { throw Error(m_reason); }
    std::string decode(const std::vector<int64_t> &) const override { throw Error(m_reason); }
    std::string name() const override { return "none"; }

private:
    std::string m_reason;
};

} // namespace

std::shared_ptr<const TextCodec> tokenizerCodec(Tokenizer tokenizer)
{
    return std::make_shared<TokenizerCodec>(std::move(tokenizer));
}

std::shared_ptr<const TextCodec> unavailableCodec(std::string reason)
{
    return std::make_shared<UnavailableCodec>(std::move(reason));
}

std::shared_ptr<const TextCodec> codecForModel(const std::filesystem::path &dir,
                                               const ModelConfig &config)
{
    if (std::filesystem::exists(dir / "tokenizer.json"))
        return tokenizerCodec(Tokenizer::fromFile(dir / "tokenizer.json"));
    if (config.vocabSize < 256)
        return std::make_shared<UnavailableCodec>(
            dir.string() + ": no tokenizer.json, and the vocabulary ("
            + std::to_string(config.vocabSize) + ") is too small for byte tokens");
    return std::make_shared<ByteCodec>();
}

} // namespace qb
