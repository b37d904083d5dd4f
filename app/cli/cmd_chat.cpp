// quantbench-cli chat render: a conversation through a model's chat template, printed exactly as
// the model would read it. The template reading and rendering are core's (chat/chat_template.h).
#include "chat/chat_template.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "util/error.h"
#include "util/files.h"

#include <nlohmann/json.hpp>

#include <iostream>

namespace qbcli {

namespace {

const char *kChatHelp = "usage: quantbench-cli chat render [options]\n\n"
                        "  render   print a conversation rendered with a model's chat template\n\n"
                        "Run 'quantbench-cli chat render --help' for its options.\n";

const char *kRenderHelp
    = "usage: quantbench-cli chat render --tokenizer-config FILE --messages FILE.json\n"
      "                                  [--add-generation-prompt] [--tools FILE.json]\n"
      "                                  [--template NAME] [--vars FILE.json]\n\n"
      "Renders the messages with the model's Jinja chat template the way transformers'\n"
      "apply_chat_template(tokenize=False) does and prints the text (no newline added).\n"
      "The template comes from chat_template.jinja beside FILE if present, else from FILE's\n"
      "\"chat_template\" key; the template sees bos_token, eos_token, ... from FILE.\n\n"
      "options:\n"
      "  --tokenizer-config FILE   a tokenizer_config.json (or its model folder)\n"
      "  --messages FILE.json      a list of {\"role\": ..., \"content\": ...} objects\n"
      "  --add-generation-prompt   end with the prompt for the assistant's reply\n"
      "  --tools FILE.json         a list of tool (function) schemas, passed as `tools`\n"
      "  --template NAME           which of a list of named templates (default: \"default\")\n"
      "  --vars FILE.json          more template variables, e.g. {\"enable_thinking\": false}\n\n"
      "A template this renderer cannot handle fails with its line and the construct named;\n"
      "the exit code is then 1.\n";

nlohmann::ordered_json readJson(const std::string &path)
{
    try {
        return nlohmann::ordered_json::parse(qb::readTextFile(path));
    } catch (const nlohmann::json::parse_error &e) {
        throw qb::Error(path + ": not valid JSON (" + e.what() + ")");
    }
}

int render(const std::vector<std::string> &argv)
{
    Args args(argv, {"tokenizer-config", "messages", "tools", "template", "vars"},
              {"help", "add-generation-prompt"});
    if (args.flag("help")) {
        std::cout << kRenderHelp;
        return 0;
    }
    if (!args.positionals().empty())
        throw UsageError("unexpected argument '" + args.positionals()[0] + "'");
    const auto chat = qb::chat::ChatTemplate::fromPath(args.required("tokenizer-config"),
                                                       args.value("template").value_or(""));
    const std::string messagesPath = args.required("messages");
    const nlohmann::ordered_json messages = readJson(messagesPath);
    if (!messages.is_array())
        throw qb::Error(messagesPath + ": must be a list of {role, content} objects");
    nlohmann::ordered_json tools = nullptr;
    if (const auto path = args.value("tools")) {
        tools = readJson(*path);
        if (!tools.is_array())
            throw qb::Error(*path + ": must be a list of tool schemas");
    }
    nlohmann::ordered_json vars = nullptr;
    if (const auto path = args.value("vars")) {
        vars = readJson(*path);
        if (!vars.is_object())
            throw qb::Error(*path + ": must be a JSON object of variables");
    }
    std::cout << chat.render(messages, args.flag("add-generation-prompt"), tools, vars);
    return 0;
}

} // namespace

int cmdChat(const std::vector<std::string> &argv)
{
    if (argv.empty() || argv[0] == "--help" || argv[0] == "-h") {
        std::cout << kChatHelp;
        return argv.empty() ? 2 : 0;
    }
    if (argv[0] == "render")
        return render({argv.begin() + 1, argv.end()});
    throw UsageError("unknown chat subcommand '" + argv[0] + "' (expected: render)");
}

} // namespace qbcli
