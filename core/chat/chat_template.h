// Chat templates of Hugging Face model folders, rendered as transformers' apply_chat_template
// does (tokenize=False): the Jinja template from chat_template.jinja or tokenizer_config.json's
// "chat_template" (a string, or a list of {"name", "template"} from which one is chosen by name,
// "default" when none is asked for), with the variables transformers passes: messages, tools
// (None when absent), documents (None), add_generation_prompt, the special tokens of the config
// (bos_token, eos_token, unk_token, pad_token, ... as strings) and any extra ones (e.g.
// enable_thinking). Rendering is the Jinja subset of chat/jinja.h.
// Thread safety: a ChatTemplate is immutable; render may run concurrently.
#pragma once
#include "chat/jinja.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

namespace qb::chat {

// The special-token variables transformers passes to a template (bos_token, eos_token,
// unk_token, sep_token, pad_token, cls_token, mask_token as strings, additional_special_tokens as
// a list), read from dir/tokenizer_config.json; an empty object when the file is absent.
// Throws qb::Error for a malformed file.
nlohmann::ordered_json readSpecialTokens(const std::filesystem::path &dir);

class ChatTemplate
{
public:
    // source: the Jinja text; name: how errors name it ("qwen2/tokenizer_config.json:
    // chat_template"); specialTokens: an object of token variables. Throws qb::Error on a syntax
    // error, naming the line.
    ChatTemplate(const std::string &source, std::string name,
                 nlohmann::ordered_json specialTokens = nlohmann::ordered_json::object());

    // Reads the template of a model folder, or of the folder of a tokenizer_config.json /
    // chat_template.jinja path. chat_template.jinja wins over the config's key, as in
    // transformers. templateName picks one of a list of named templates ("" means "default").
    // Throws qb::Error when there is no template, or the files are malformed.
    static ChatTemplate fromPath(const std::filesystem::path &path,
                                 const std::string &templateName = {});

    // messages: a list of {"role", "content", ...}; tools: a list of tool schemas or null;
    // extra: more variables (an object, may be null). Throws qb::Error naming the template line
    // when the template uses something outside the subset or calls raise_exception.
    std::string render(const nlohmann::ordered_json &messages, bool addGenerationPrompt,
                       const nlohmann::ordered_json &tools = nullptr,
                       const nlohmann::ordered_json &extra = nullptr) const;

    const std::string &name() const { return m_name; }
    const nlohmann::ordered_json &specialTokens() const { return m_specialTokens; }

private:
    jinja::Template m_template;
    std::string m_name;
    nlohmann::ordered_json m_specialTokens;
};

} // namespace qb::chat
