#include "chat/chat_template.h"

#include "util/error.h"
#include "util/files.h"

namespace qb::chat {

namespace {

// The special-token keys transformers passes to the template (special_tokens_map).
constexpr const char *kTokenKeys[] = {"bos_token", "eos_token", "unk_token", "sep_token",
                                      "pad_token", "cls_token", "mask_token"};

std::string tokenString(const nlohmann::ordered_json &value)
{
    if (value.is_string())
        return value.get<std::string>();
    if (value.is_object() && value.contains("content") && value["content"].is_string())
        return value["content"].get<std::string>();
    return {};
}

std::string displayName(const std::filesystem::path &file)
{
    const std::filesystem::path dir = file.parent_path().filename();
    return (dir.empty() ? file.filename() : dir / file.filename()).string();
}

nlohmann::ordered_json readConfig(const std::filesystem::path &configPath)
{
    const std::string configName = displayName(configPath);
    nlohmann::ordered_json config;
    try {
        config = nlohmann::ordered_json::parse(readTextFile(configPath));
    } catch (const nlohmann::json::parse_error &e) {
        throw Error(configName + ": not valid JSON (" + e.what() + ")");
    }
    if (!config.is_object())
        throw Error(configName + ": must be a JSON object");
    return config;
}

} // namespace

nlohmann::ordered_json readSpecialTokens(const std::filesystem::path &dir)
{
    nlohmann::ordered_json tokens = nlohmann::ordered_json::object();
    const std::filesystem::path configPath = dir / "tokenizer_config.json";
    if (!std::filesystem::exists(configPath))
        return tokens;
    const nlohmann::ordered_json config = readConfig(configPath);
    for (const char *key : kTokenKeys) {
        const auto it = config.find(key);
        if (it != config.end()) {
            const std::string text = tokenString(*it);
            if (!text.empty())
                tokens[key] = text;
        }
    }
    if (const auto extra = config.find("additional_special_tokens");
        extra != config.end() && extra->is_array()) {
        nlohmann::ordered_json list = nlohmann::ordered_json::array();
        for (const auto &t : *extra)
            list.push_back(tokenString(t));
        tokens["additional_special_tokens"] = list;
    }
    return tokens;
}

ChatTemplate::ChatTemplate(const std::string &source, std::string name,
                           nlohmann::ordered_json specialTokens)
    : m_template(source, name), m_name(std::move(name)),
      m_specialTokens(std::move(specialTokens))
{
    if (!m_specialTokens.is_object())
        throw Error(m_name + ": special tokens must be a JSON object");
}

ChatTemplate ChatTemplate::fromPath(const std::filesystem::path &path,
                                    const std::string &templateName)
{
    const std::filesystem::path dir
        = std::filesystem::is_directory(path) ? path : path.parent_path();
    const std::filesystem::path configPath = dir / "tokenizer_config.json";
    const std::filesystem::path jinjaPath = dir / "chat_template.jinja";
    const bool haveConfig = std::filesystem::exists(configPath);
    const bool haveJinja = std::filesystem::exists(jinjaPath);
    if (!haveConfig && !haveJinja)
        throw Error(path.string() + ": no tokenizer_config.json or chat_template.jinja there");

    const std::string configName = displayName(configPath);
    const nlohmann::ordered_json tokens = readSpecialTokens(dir);
    if (haveJinja)
        return ChatTemplate(readTextFile(jinjaPath), displayName(jinjaPath), tokens);

    const nlohmann::ordered_json config = readConfig(configPath);
    const auto chat = config.find("chat_template");
    const std::string where = configName + ": chat_template";
    if (chat == config.end() || chat->is_null())
        throw Error(configName + ": has no chat_template (and there is no chat_template.jinja)");
    if (chat->is_string())
        return ChatTemplate(chat->get<std::string>(), where, tokens);
    if (!chat->is_array())
        throw Error(where + " must be a string or a list of {name, template}");
    const std::string wanted = templateName.empty() ? "default" : templateName;
    std::string names;
    for (std::size_t i = 0; i < chat->size(); ++i) {
        const auto &t = (*chat)[i];
        if (!t.is_object() || !t.contains("name") || !t["name"].is_string()
            || !t.contains("template") || !t["template"].is_string())
            throw Error(where + "[" + std::to_string(i) + "] must be {name, template} strings");
        const std::string name = t["name"].get<std::string>();
        if (name == wanted)
            return ChatTemplate(t["template"].get<std::string>(), where + "[" + name + "]",
                                tokens);
        names += (names.empty() ? "" : ", ") + name;
    }
    throw Error(where + " has no template named '" + wanted + "' (it has: " + names + ")");
}

std::string ChatTemplate::render(const nlohmann::ordered_json &messages, bool addGenerationPrompt,
                                 const nlohmann::ordered_json &tools,
                                 const nlohmann::ordered_json &extra) const
{
    if (!messages.is_array())
        throw Error(m_name + ": messages must be a list of {role, content} objects");
    if (!tools.is_null() && !tools.is_array())
        throw Error(m_name + ": tools must be a list of tool schemas");
    nlohmann::ordered_json vars = m_specialTokens;
    vars["messages"] = messages;
    vars["tools"] = tools;
    vars["documents"] = nullptr;
    vars["add_generation_prompt"] = addGenerationPrompt;
    if (!extra.is_null()) {
        if (!extra.is_object())
            throw Error(m_name + ": extra template variables must be a JSON object");
        for (const auto &[k, v] : extra.items())
            vars[k] = v;
    }
    return m_template.render(vars);
}

} // namespace qb::chat
