// quantbench-cli score: read the answers out of saved completions with the evaluator's own
// extraction rules (data/answer_extract.h), one JSON line in, the same line plus the answer out.
#include "cli/args.h"
#include "cli/commands.h"
#include "data/answer_extract.h"
#include "data/prompts.h"
#include "util/error.h"
#include "util/files.h"

#include <nlohmann/json.hpp>

#include <array>
#include <iostream>
#include <sstream>

namespace qbcli {

namespace {

using Json = nlohmann::ordered_json;

const char *kScoreHelp
    = "usage: quantbench-cli score --task gsm8k|gpqa --mode strict|flexible [options]\n\n"
      "Reads JSON lines with a string field \"completion\" (from --input FILE, else stdin) and\n"
      "writes each line back with two fields added (replacing fields of the same name):\n"
      "  extracted  the answer read from the completion (gsm8k: the number with ',' and '$'\n"
      "             dropped, e.g. \"1234\"; gpqa: a letter A-D); \"\" when nothing was found\n"
      "  parsed     true when an answer was found\n"
      "All other fields are kept in their order, so the output can be piped on. Blank lines\n"
      "are skipped. The rules are the evaluate node's (lm-eval's filters):\n"
      "  gsm8k strict    the first \"#### N\" (--format gsm8k) or \"The answer is N\"\n"
      "                  (--format gsm8k_cot), the number opening the completion\n"
      "                  (--format gsm8k_direct)\n"
      "  gsm8k flexible  the last number in the completion\n"
      "  gpqa strict     \"answer is (B)\" / \"answer is B\"; with gpqa_zeroshot also a leading\n"
      "                  \"(B)\" or \"B\"\n"
      "  gpqa flexible   strict, else the last \"(B)\", else the last \"Answer: B\", else the\n"
      "                  choice whose text occurs last, when the line has a \"choices\" field\n"
      "                  (four strings, in the order A-D, as 'data show' prints them)\n"
      "A reasoning model's thinking is set aside first: text up to the last \"</think>\" is\n"
      "not read (an unclosed \"<think>\" leaves no answer), and its length in characters is\n"
      "added as think_chars.\n\n"
      "options:\n"
      "  --task T       gsm8k or gpqa\n"
      "  --mode M       strict or flexible\n"
      "  --input FILE   JSON lines to read (default: stdin)\n"
      "  --format F     prompt format the completions answer: gsm8k (default), gsm8k_cot, gsm8k_direct;\n"
      "                 gpqa_zeroshot (default) or gpqa_cot_zeroshot\n"
      "  --apply-stops  cut each completion at the format's stop sequences first (for\n"
      "                 completions saved without cutting)\n\n"
      "A line that is not a JSON object, lacks \"completion\" or has a bad \"choices\" stops the\n"
      "command with an error naming the file and line (exit code 1); lines before it have\n"
      "been written.\n";

qb::data::PromptFormat formatOf(const Args &args, bool gsm)
{
    const std::string name = args.value("format").value_or(gsm ? "gsm8k" : "gpqa_zeroshot");
    qb::data::PromptFormat format;
    try {
        format = qb::data::promptFormatFromName(name);
    } catch (const qb::Error &e) {
        throw UsageError(std::string("--format: ") + e.what());
    }
    if (qb::data::isGsmFormat(format) != gsm)
        throw UsageError("--format " + name + " does not fit --task " + (gsm ? "gsm8k" : "gpqa"));
    return format;
}

std::array<std::string, 4> choicesOf(const Json &row, const std::string &where)
{
    std::array<std::string, 4> choices;
    if (!row.contains("choices"))
        return choices;
    const Json &c = row["choices"];
    if (!c.is_array() || c.size() != 4)
        throw qb::Error(where + ": \"choices\" must be an array of four strings");
    for (std::size_t i = 0; i < 4; ++i) {
        if (!c[i].is_string())
            throw qb::Error(where + ": \"choices\" must be an array of four strings");
        choices[i] = c[i].get<std::string>();
    }
    return choices;
}

} // namespace

int cmdScore(const std::vector<std::string> &argv)
{
    Args args(argv, {"task", "mode", "input", "format"}, {"apply-stops", "help"});
    if (args.flag("help")) {
        std::cout << kScoreHelp;
        return 0;
    }
    if (!args.positionals().empty())
        throw UsageError("unexpected argument '" + args.positionals()[0] + "'");
    const std::string task = args.required("task");
    if (task != "gsm8k" && task != "gpqa")
        throw UsageError("--task must be gsm8k or gpqa, got '" + task + "'");
    const std::string mode = args.required("mode");
    if (mode != "strict" && mode != "flexible")
        throw UsageError("--mode must be strict or flexible, got '" + mode + "'");
    const bool gsm = task == "gsm8k";
    const bool strict = mode == "strict";
    const qb::data::PromptFormat format = formatOf(args, gsm);
    const std::vector<std::string> stops = qb::data::stopSequences(format);

    std::istringstream fileText;
    std::istream *in = &std::cin;
    std::string source = "<stdin>";
    if (auto path = args.value("input")) {
        fileText.str(qb::readTextFile(*path));
        in = &fileText;
        source = *path;
    }
    std::string line;
    for (long long lineNo = 1; std::getline(*in, line); ++lineNo) {
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        if (line.find_first_not_of(" \t") == std::string::npos)
            continue;
        const std::string where = source + ":" + std::to_string(lineNo);
        Json row;
        try {
            row = Json::parse(line);
        } catch (const nlohmann::json::parse_error &e) {
            throw qb::Error(where + ": not a JSON object (" + e.what() + ")");
        }
        if (!row.is_object())
            throw qb::Error(where + ": expected a JSON object with a \"completion\" field");
        if (!row.contains("completion") || !row["completion"].is_string())
            throw qb::Error(where + ": missing string field \"completion\"");
        std::string completion = row["completion"].get<std::string>();
        if (args.flag("apply-stops"))
            completion = qb::data::applyStopSequences(completion, stops);

        // Checked in both modes, so a bad line is reported whichever mode reads it.
        const std::array<std::string, 4> choices = gsm ? std::array<std::string, 4>{}
                                                       : choicesOf(row, where);
        // A reasoning model's thinking is set aside first, as evaluation does.
        const qb::data::ThinkSplit split = qb::data::splitThinking(completion);
        qb::data::Extraction ex;
        if (gsm && strict)
            ex = qb::data::extractGsmStrict(split.answer, format);
        else if (gsm)
            ex = qb::data::extractGsmFlexible(split.answer);
        else if (strict)
            ex = qb::data::extractGpqaStrict(split.answer, format);
        else
            ex = qb::data::extractGpqa(split.answer, choices, format);
        row["extracted"] = ex.answer;
        row["parsed"] = ex.parsed;
        if (split.thinkChars >= 0)
            row["think_chars"] = split.thinkChars;
        std::cout << row.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    }
    return 0;
}

} // namespace qbcli
