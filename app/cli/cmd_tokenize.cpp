// quantbench-cli tokenize: text to ids and back with a tokenizer.json, one JSON line per input
// line, so that ids can be checked against other tools from a shell. Encoding and decoding are core's
// (tokenizer/tokenizer.h).
#include "cli/args.h"
#include "cli/commands.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <iostream>

namespace qbcli {

namespace {

const char *kTokenizeHelp
    = "usage: quantbench-cli tokenize --tokenizer FILE [--add-special-tokens] [--input FILE]\n\n"
      "Encodes each line of the input (standard input by default) and prints one JSON object\n"
      "per line:\n"
      "  ids      the token ids\n"
      "  tokens   the vocabulary string of each id (e.g. \"\\u0120the\", \"\\u2581Hello\",\n"
      "           \"##ing\")\n"
      "  decoded  the ids decoded back to text, special tokens kept\n\n"
      "A line is the text without its line break (a trailing \\r is removed too). A line\n"
      "starting with the four characters ESC> carries a JSON string instead, for texts with\n"
      "newlines or control characters:  ESC>\"two\\nlines\\t!\"\n\n"
      "options:\n"
      "  --tokenizer FILE       a Hugging Face tokenizer.json (tokenizer_config.json beside it\n"
      "                         is read too)\n"
      "  --add-special-tokens   add the post-processor's tokens (e.g. <s>, [CLS] ... [SEP])\n"
      "  --input FILE           read lines from FILE instead of standard input\n\n"
      "A bad tokenizer file or ESC> line is reported with its name and line; exit code 1.\n";

constexpr const char *kEscapePrefix = "ESC>";

std::string textOfLine(std::string line, const std::string &source, long long lineNo)
{
    if (!line.empty() && line.back() == '\r')
        line.pop_back();
    if (line.rfind(kEscapePrefix, 0) != 0)
        return line;
    const std::string payload = line.substr(std::string(kEscapePrefix).size());
    nlohmann::json value;
    try {
        value = nlohmann::json::parse(payload);
    } catch (const nlohmann::json::parse_error &e) {
        throw qb::Error(source + ":" + std::to_string(lineNo) + ": ESC> must be followed by a "
                        "JSON string (" + e.what() + ")");
    }
    if (!value.is_string())
        throw qb::Error(source + ":" + std::to_string(lineNo)
                        + ": ESC> must be followed by a JSON string");
    return value.get<std::string>();
}

void tokenizeStream(std::istream &in, const std::string &source, const qb::Tokenizer &tokenizer,
                    bool addSpecial)
{
    std::string line;
    for (long long lineNo = 1; std::getline(in, line); ++lineNo) {
        const std::string text = textOfLine(line, source, lineNo);
        const std::vector<std::int32_t> ids = tokenizer.encode(text, addSpecial);
        nlohmann::ordered_json row;
        row["ids"] = ids;
        nlohmann::ordered_json tokens = nlohmann::ordered_json::array();
        for (const std::int32_t id : ids)
            tokens.push_back(tokenizer.tokenText(id));
        row["tokens"] = std::move(tokens);
        row["decoded"] = tokenizer.decode(ids);
        // Decoding stops nowhere inside a character here, but replace keeps a stray byte printable.
        std::cout << row.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    }
}

} // namespace

int cmdTokenize(const std::vector<std::string> &argv)
{
    Args args(argv, {"tokenizer", "input"}, {"help", "add-special-tokens"});
    if (args.flag("help")) {
        std::cout << kTokenizeHelp;
        return 0;
    }
    if (!args.positionals().empty())
        throw UsageError("unexpected argument '" + args.positionals()[0] + "'");
    const qb::Tokenizer tokenizer = qb::Tokenizer::fromFile(args.required("tokenizer"));
    const bool addSpecial = args.flag("add-special-tokens");
    if (const auto input = args.value("input")) {
        std::ifstream in(*input, std::ios::binary);
        if (!in)
            throw qb::Error(*input + ": cannot open");
        tokenizeStream(in, *input, tokenizer, addSpecial);
    } else {
        tokenizeStream(std::cin, "<stdin>", tokenizer, addSpecial);
    }
    return 0;
}

} // namespace qbcli
