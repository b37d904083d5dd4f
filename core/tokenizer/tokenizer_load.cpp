// Reading a tokenizer.json (and the tokenizer_config.json beside it), building the built-in
// WordLevel tokenizer, and saving. Encoding and decoding are in tokenizer.cpp.
#include "tokenizer/tokenizer.h"

#include "tokenizer/builtin_words.h"
#include "tokenizer/tokenizer_impl.h"
#include "util/error.h"
#include "util/files.h"

#include <algorithm>

namespace qb {

using tok::JsonWhere;
using tok::TokenizerImpl;

namespace {

constexpr const char *kExtensionKey = "quantbench";
constexpr const char *kBuiltinDecoder = "builtin_words";

nlohmann::json member(const nlohmann::json &j, const char *key)
{
    const auto it = j.find(key);
    return it == j.end() ? nlohmann::json() : *it;
}

nlohmann::json parseJson(const std::string &text, const std::string &source)
{
    try {
        return nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error &e) {
        throw Error(source + ": not valid JSON (" + e.what() + ")");
    }
}

void readAddedTokens(const nlohmann::json &list, const JsonWhere &where, TokenizerImpl &impl)
{
    if (list.is_null())
        return;
    if (!list.is_array())
        where.fail("must be a list");
    for (std::size_t i = 0; i < list.size(); ++i) {
        const JsonWhere at = where[i];
        const nlohmann::json &t = list[i];
        if (!t.is_object())
            at.fail("must be an object");
        tok::AddedToken token;
        token.content = at.string(t, "content");
        const long long id = at.integer(t, "id", -1);
        if (token.content.empty() || id < 0)
            at.fail("needs a non-empty content and an id");
        token.id = static_cast<std::int32_t>(id);
        token.special = at.boolean(t, "special", false);
        token.lstrip = at.boolean(t, "lstrip", false);
        token.rstrip = at.boolean(t, "rstrip", false);
        token.singleWord = at.boolean(t, "single_word", false);
        impl.addedIds[token.content] = token.id;
        const std::string *inModel = impl.model->vocab().text(token.id);
        if (!inModel || *inModel != token.content)
            impl.addedText[token.id] = token.content;
        impl.added.push_back(std::move(token));
    }
    for (std::size_t i = 0; i < impl.added.size(); ++i)
        impl.addedByFirstByte[static_cast<unsigned char>(impl.added[i].content[0])].push_back(i);
    for (auto &bucket : impl.addedByFirstByte) {
        std::stable_sort(bucket.begin(), bucket.end(), [&](std::size_t a, std::size_t b) {
            return impl.added[a].content.size() > impl.added[b].content.size();
        });
    }
    impl.addedJson = list;
}

std::int32_t pairId(const nlohmann::json &pair, const JsonWhere &where)
{
    // Bert/Roberta processors name their tokens as ["[CLS]", 101].
    if (!pair.is_array() || pair.size() != 2 || !pair[1].is_number_integer())
        where.fail("must be [token, id]");
    return pair[1].get<std::int32_t>();
}

void readPostProcessor(const nlohmann::json &j, const JsonWhere &where, TokenizerImpl &impl)
{
    if (j.is_null())
        return;
    const std::string type = where.typeOf(j);
    if (type == "ByteLevel")
        return; // only adjusts offsets
    if (type == "Sequence") {
        const auto list = j.find("processors");
        if (list == j.end() || !list->is_array())
            (where / "processors").fail("must be a list");
        for (std::size_t i = 0; i < list->size(); ++i)
            readPostProcessor((*list)[i], (where / "processors")[i], impl);
        return;
    }
    if (type == "BertProcessing" || type == "RobertaProcessing") {
        impl.prefix.push_back(pairId(member(j, "cls"), where / "cls"));
        impl.suffix.push_back(pairId(member(j, "sep"), where / "sep"));
        return;
    }
    if (type != "TemplateProcessing")
        (where / "type").fail("'" + type + "' is not supported");
    const nlohmann::json single = member(j, "single");
    const nlohmann::json specials = member(j, "special_tokens");
    if (!single.is_array())
        (where / "single").fail("must be a list");
    bool afterSequence = false;
    for (std::size_t i = 0; i < single.size(); ++i) {
        const JsonWhere at = (where / "single")[i];
        const nlohmann::json &item = single[i];
        if (item.contains("Sequence")) {
            afterSequence = true;
            continue;
        }
        if (!item.contains("SpecialToken"))
            at.fail("must hold a Sequence or a SpecialToken");
        const std::string name = (at / "SpecialToken").string(item["SpecialToken"], "id");
        const auto spec = specials.is_object() ? specials.find(name) : specials.end();
        if (!specials.is_object() || spec == specials.end() || !spec->contains("ids")
            || !(*spec)["ids"].is_array())
            (where / "special_tokens").fail("does not define '" + name + "'");
        for (const auto &id : (*spec)["ids"])
            (afterSequence ? impl.suffix : impl.prefix).push_back(id.get<std::int32_t>());
    }
}

std::optional<std::int32_t> idOf(const TokenizerImpl &impl, const std::string &token)
{
    if (token.empty())
        return std::nullopt;
    const auto added = impl.addedIds.find(token);
    if (added != impl.addedIds.end())
        return added->second;
    return impl.model->vocab().find(token);
}

// A config token is a string or an AddedToken object {"content": ...}; null means none.
std::string configToken(const nlohmann::json &config, const char *key, const JsonWhere &where)
{
    const nlohmann::json value = member(config, key);
    if (value.is_string())
        return value.get<std::string>();
    if (value.is_object())
        return (where / key).string(value, "content");
    return {};
}

void readExtension(const nlohmann::json &ext, const JsonWhere &where, TokenizerImpl &impl)
{
    if (ext.is_null())
        return;
    if (!ext.is_object())
        where.fail("must be an object");
    impl.extensionJson = ext;
    const nlohmann::json names = member(ext, "special_tokens");
    if (!names.is_null()) {
        const JsonWhere at = where / "special_tokens";
        impl.bos = idOf(impl, at.string(names, "bos"));
        impl.eos = idOf(impl, at.string(names, "eos"));
        impl.pad = idOf(impl, at.string(names, "pad"));
        if (const auto unk = idOf(impl, at.string(names, "unk")))
            impl.unk = unk;
    }
}

void applyConfig(const std::filesystem::path &dir, TokenizerImpl &impl)
{
    const std::filesystem::path configPath = dir / "tokenizer_config.json";
    if (std::filesystem::exists(configPath)) {
        const std::string source = (dir.filename() / "tokenizer_config.json").string();
        const nlohmann::json config = parseJson(readTextFile(configPath), source);
        const JsonWhere where(source);
        if (!config.is_object())
            where.fail("must be an object");
        if (const auto id = idOf(impl, configToken(config, "bos_token", where)))
            impl.bos = id;
        if (const auto id = idOf(impl, configToken(config, "eos_token", where)))
            impl.eos = id;
        if (const auto id = idOf(impl, configToken(config, "pad_token", where)))
            impl.pad = id;
        if (const auto id = idOf(impl, configToken(config, "unk_token", where)))
            impl.unk = id;
        const nlohmann::json chat = member(config, "chat_template");
        if (chat.is_string()) {
            impl.chatTemplate = chat.get<std::string>();
        } else if (chat.is_array() && !chat.empty()) {
            // Named templates: prefer "default", else the first.
            impl.chatTemplate = where.string(chat[0], "template");
            for (const auto &t : chat) {
                if (t.is_object() && member(t, "name") == "default")
                    impl.chatTemplate = where.string(t, "template");
            }
        }
        // transformers adds these when the tokenizer.json's post-processor does not (Llama).
        if (where.boolean(config, "add_bos_token", false) && impl.bos
            && (impl.prefix.empty() || impl.prefix.front() != *impl.bos))
            impl.prefix.insert(impl.prefix.begin(), *impl.bos);
        if (where.boolean(config, "add_eos_token", false) && impl.eos
            && (impl.suffix.empty() || impl.suffix.back() != *impl.eos))
            impl.suffix.push_back(*impl.eos);
    }
    // As in transformers, a chat_template.jinja file wins over the config's key.
    const std::filesystem::path jinja = dir / "chat_template.jinja";
    if (std::filesystem::exists(jinja))
        impl.chatTemplate = readTextFile(jinja);
}

std::shared_ptr<TokenizerImpl> load(const std::string &json, const std::string &source)
{
    const nlohmann::json doc = parseJson(json, source);
    const JsonWhere root(source);
    if (!doc.is_object())
        root.fail("must be a JSON object");
    if (!doc.contains("model"))
        (root / "model").fail("is missing");
    auto impl = std::make_shared<TokenizerImpl>();
    impl->source = source;
    // The model first: an unsupported model type is the most useful error to report.
    impl->model = tok::makeModel(doc["model"], root / "model");
    impl->normalizerJson = member(doc, "normalizer");
    impl->normalizer = tok::makeNormalizer(impl->normalizerJson, root / "normalizer");
    impl->preTokenizerJson = member(doc, "pre_tokenizer");
    impl->preTokenizer = tok::makePreTokenizer(impl->preTokenizerJson, root / "pre_tokenizer");
    readAddedTokens(member(doc, "added_tokens"), root / "added_tokens", *impl);
    impl->postProcessorJson = member(doc, "post_processor");
    readPostProcessor(impl->postProcessorJson, root / "post_processor", *impl);

    // QuantBench's own settings live inside "model": the Hugging Face library ignores unknown keys
    // there but refuses them at the top level.
    const nlohmann::json ext = member(doc["model"], kExtensionKey);
    impl->decoderJson = member(doc, "decoder");
    const bool builtinDecoder = ext.is_object() && member(ext, "decoder") == kBuiltinDecoder;
    impl->decoder = builtinDecoder ? tok::makeBuiltinWordsDecoder()
                                   : tok::makeDecoder(impl->decoderJson, root / "decoder");

    impl->vocabSize = impl->model->vocab().size();
    for (const auto &t : impl->added)
        impl->vocabSize = std::max(impl->vocabSize, t.id + 1);
    impl->special.assign(static_cast<std::size_t>(impl->vocabSize), false);
    for (const auto &t : impl->added)
        impl->special[static_cast<std::size_t>(t.id)] = t.special;
    impl->unk = impl->model->unkId();
    readExtension(ext, root / "model" / kExtensionKey, *impl);
    return impl;
}

std::string displayName(const std::filesystem::path &path)
{
    const std::filesystem::path dir = path.parent_path().filename();
    return (dir.empty() ? path.filename() : dir / path.filename()).string();
}

} // namespace

Tokenizer::Tokenizer(std::shared_ptr<const TokenizerImpl> impl) : m_impl(std::move(impl)) {}

Tokenizer Tokenizer::fromJson(const std::string &json, const std::string &sourceName)
{
    return Tokenizer(load(json, sourceName));
}

Tokenizer Tokenizer::fromFile(const std::filesystem::path &path)
{
    if (!std::filesystem::exists(path))
        throw Error(path.string() + ": no such file");
    auto impl = load(readTextFile(path), displayName(path));
    applyConfig(path.parent_path(), *impl);
    return Tokenizer(std::move(impl));
}

std::vector<std::string> Tokenizer::splitBuiltinWords(std::string_view text)
{
    std::vector<tok::Span> spans;
    tok::builtinWordMatches(text, spans);
    std::vector<std::string> words;
    words.reserve(spans.size());
    for (const tok::Span &s : spans)
        words.emplace_back(text.substr(s.begin, s.end - s.begin));
    return words;
}

Tokenizer Tokenizer::makeWordLevel(const std::vector<std::string> &words,
                                   const SpecialTokenNames &specials)
{
    nlohmann::ordered_json vocab = nlohmann::ordered_json::object();
    nlohmann::ordered_json added = nlohmann::ordered_json::array();
    int next = 0;
    std::vector<std::string> specialNames = {specials.pad, specials.bos, specials.eos,
                                             specials.unk};
    specialNames.insert(specialNames.end(), specials.extra.begin(), specials.extra.end());
    for (const std::string &name : specialNames) {
        if (name.empty() || vocab.contains(name))
            continue;
        vocab[name] = next;
        added.push_back({{"id", next}, {"content", name}, {"single_word", false},
                         {"lstrip", false}, {"rstrip", false}, {"normalized", false},
                         {"special", true}});
        ++next;
    }
    std::vector<std::string> all = {"\n"};
    all.insert(all.end(), words.begin(), words.end());
    for (const std::string &word : all) {
        if (vocab.contains(word))
            continue;
        const auto pieces = splitBuiltinWords(word);
        if (pieces.size() != 1 || pieces[0] != word)
            throw Error("built-in tokenizer: '" + word
                        + "' is not one token of the word format, so it could never be produced");
        vocab[word] = next++;
    }
    nlohmann::ordered_json doc;
    doc["version"] = "1.0";
    doc["truncation"] = nullptr;
    doc["padding"] = nullptr;
    doc["added_tokens"] = added;
    doc["normalizer"] = nullptr;
    doc["pre_tokenizer"] = {{"type", "Split"},
                            {"pattern", {{"Regex", std::string(tok::kBuiltinWordsRegex)}}},
                            {"behavior", "Removed"},
                            {"invert", true}};
    if (!specials.bos.empty()) {
        const nlohmann::ordered_json bos = {
            {"SpecialToken", {{"id", specials.bos}, {"type_id", 0}}}};
        const nlohmann::ordered_json a = {{"Sequence", {{"id", "A"}, {"type_id", 0}}}};
        const nlohmann::ordered_json b = {{"Sequence", {{"id", "B"}, {"type_id", 1}}}};
        doc["post_processor"] = {
            {"type", "TemplateProcessing"},
            {"single", {bos, a}},
            {"pair", {bos, a, b}},
            {"special_tokens",
             {{specials.bos,
               {{"id", specials.bos},
                {"ids", {vocab[specials.bos]}},
                {"tokens", {specials.bos}}}}}}};
    } else {
        doc["post_processor"] = nullptr;
    }
    // The Hugging Face library has no decoder for our spacing rule: it joins with spaces, and
    // QuantBench reads the exact rule from its own key in "model", which that library ignores.
    doc["decoder"] = nullptr;
    doc["model"] = {{"type", "WordLevel"},
                    {"vocab", vocab},
                    {"unk_token", specials.unk.empty() ? "<unk>" : specials.unk}};
    doc["model"][kExtensionKey] = {{"format_version", 1},
                                   {"decoder", kBuiltinDecoder},
                                   {"special_tokens",
                                    {{"pad", specials.pad},
                                     {"bos", specials.bos},
                                     {"eos", specials.eos},
                                     {"unk", specials.unk}}}};
    return fromJson(doc.dump(), "built-in tokenizer");
}

void Tokenizer::save(const std::filesystem::path &path) const
{
    const auto ordered = [](const nlohmann::json &j) {
        return nlohmann::ordered_json::parse(j.dump());
    };
    nlohmann::ordered_json doc;
    doc["version"] = "1.0";
    doc["truncation"] = nullptr;
    doc["padding"] = nullptr;
    doc["added_tokens"] = ordered(m_impl->addedJson);
    doc["normalizer"] = ordered(m_impl->normalizerJson);
    doc["pre_tokenizer"] = ordered(m_impl->preTokenizerJson);
    doc["post_processor"] = ordered(m_impl->postProcessorJson);
    doc["decoder"] = ordered(m_impl->decoderJson);
    doc["model"] = m_impl->model->toJson();
    if (!m_impl->extensionJson.is_null())
        doc["model"][kExtensionKey] = ordered(m_impl->extensionJson);
    std::string text;
    try {
        text = doc.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::strict);
    } catch (const nlohmann::json::exception &e) {
        throw Error(path.string() + ": cannot write tokenizer (" + e.what() + ")");
    }
    writeFileAtomic(path, text + "\n");
}

} // namespace qb
