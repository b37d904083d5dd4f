// quantbench-cli data show / data synth: print a GSM8K or GPQA file as JSON lines the way the
// loaders read it, and write generated problems in the official file layouts. The parsing,
// shuffling and generating are core's (data/gsm8k.h, gpqa.h, gsm_generator.h, gpqa_generator.h).
#include "cli/args.h"
#include "cli/commands.h"
#include "data/gpqa.h"
#include "data/gpqa_generator.h"
#include "data/gsm8k.h"
#include "data/gsm_generator.h"
#include "util/files.h"

#include <nlohmann/json.hpp>

#include <iostream>

namespace qbcli {

namespace {

const char *kDataHelp = "usage: quantbench-cli data <show|synth> [options]\n\n"
                        "  show    print a GSM8K (jsonl) or GPQA (csv) file as JSON lines\n"
                        "  synth   write generated problems in the GSM8K / GPQA file layout\n\n"
                        "Run 'quantbench-cli data show --help' or 'data synth --help' for "
                        "options.\n";

const char *kShowHelp
    = "usage: quantbench-cli data show --task gsm8k|gpqa --path FILE [--seed S]\n\n"
      "Parses FILE as the dataset loaders do and prints one JSON object per record:\n"
      "  id        gsm8k: \"gsm8k-<file stem>-<index>\"; gpqa: the \"Record ID\" column when\n"
      "            present, else \"gpqa-<file stem>-<index>\" (index 0-based)\n"
      "  question  the question text (gpqa: after lm-eval's text cleanup)\n"
      "  answer    gsm8k: the number after the final \"####\", commas removed (\"1234\");\n"
      "            gpqa: the letter A-D of the correct answer among the shuffled choices\n"
      "  choices   gpqa only: the four answer texts in the order presented (A, B, C, D)\n\n"
      "options:\n"
      "  --task T     gsm8k (official jsonl: question, answer) or gpqa (official csv)\n"
      "  --path FILE  the file to read\n"
      "  --seed S     gpqa: seed of the choice shuffle (default 1234, like the dataset\n"
      "               node's shuffle_seed); ignored for gsm8k\n\n"
      "A bad file is reported with its name and line; the exit code is then 1.\n";

const char *kSynthHelp
    = "usage: quantbench-cli data synth --task gsm8k|gpqa --n N --out FILE [options]\n\n"
      "Writes N generated problems of the built-in task (the same generators as the\n"
      "dataset node's synthetic source) to FILE, atomically:\n"
      "  gsm8k  official jsonl: {\"question\": ..., \"answer\": \"<steps>\\n#### N\"} per line\n"
      "  gpqa   official csv columns: Question, Correct Answer, Incorrect Answer 1..3,\n"
      "         Explanation, Subdomain, Record ID\n"
      "'data show' and the dataset loaders read the file back. The same options give the same\n"
      "bytes. GPQA choices are not stored in the file; 'data show --seed S' with the seed used\n"
      "here presents them in the generator's order.\n\n"
      "options:\n"
      "  --task T       gsm8k or gpqa\n"
      "  --n N          number of problems (at least 1)\n"
      "  --out FILE     file to write (folders are created)\n"
      "  --seed S       generator seed (default 1234)\n"
      "  --split SPLIT  test or train (default test); the two never share a question\n";

enum class Task { Gsm8k, Gpqa };

Task taskOf(const Args &args)
{
    const std::string task = args.required("task");
    if (task == "gsm8k")
        return Task::Gsm8k;
    if (task == "gpqa")
        return Task::Gpqa;
    throw UsageError("--task must be gsm8k or gpqa, got '" + task + "'");
}

std::uint64_t seedOf(const Args &args, std::uint64_t fallback)
{
    const long long seed = args.integer("seed", static_cast<long long>(fallback));
    if (seed < 0)
        throw UsageError("--seed must not be negative, got " + std::to_string(seed));
    return static_cast<std::uint64_t>(seed);
}

void rejectPositionals(const Args &args)
{
    if (!args.positionals().empty())
        throw UsageError("unexpected argument '" + args.positionals()[0] + "'");
}

void printLine(const nlohmann::ordered_json &row)
{
    std::cout << row.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

int show(const std::vector<std::string> &argv)
{
    Args args(argv, {"task", "path", "seed"}, {"help"});
    if (args.flag("help")) {
        std::cout << kShowHelp;
        return 0;
    }
    rejectPositionals(args);
    const Task task = taskOf(args);
    const std::string path = args.required("path");
    const std::uint64_t seed = seedOf(args, qb::data::kDefaultGpqaShuffleSeed);
    if (task == Task::Gsm8k) {
        for (const qb::data::GsmRecord &r : qb::data::loadGsm8k(path)) {
            nlohmann::ordered_json row;
            row["id"] = r.id;
            row["question"] = r.question;
            row["answer"] = r.gold;
            printLine(row);
        }
    } else {
        for (const qb::data::GpqaRecord &r : qb::data::loadGpqa(path, seed)) {
            nlohmann::ordered_json row;
            row["id"] = r.id;
            row["question"] = r.question;
            row["answer"] = std::string(1, r.goldLetter());
            row["choices"] = r.choices;
            printLine(row);
        }
    }
    return 0;
}

int synth(const std::vector<std::string> &argv)
{
    Args args(argv, {"task", "n", "seed", "out", "split"}, {"help"});
    if (args.flag("help")) {
        std::cout << kSynthHelp;
        return 0;
    }
    rejectPositionals(args);
    const Task task = taskOf(args);
    args.required("n");
    const long long n = args.integer("n", 0);
    if (n < 1 || n > 1000000)
        throw UsageError("--n must be between 1 and 1000000, got " + std::to_string(n));
    const std::string out = args.required("out");
    const std::uint64_t seed = seedOf(args, 1234);
    const std::string splitText = args.value("split").value_or("test");
    if (splitText != "test" && splitText != "train")
        throw UsageError("--split must be test or train, got '" + splitText + "'");
    const qb::data::Split split
        = splitText == "test" ? qb::data::Split::Test : qb::data::Split::Train;

    std::string bytes;
    if (task == Task::Gsm8k) {
        qb::data::GsmGeneratorOptions options;
        options.seed = seed;
        bytes = qb::data::toGsmJsonl(qb::data::recordsOf(
            qb::data::generateGsmProblems(options, split, static_cast<int>(n))));
    } else {
        qb::data::GpqaGeneratorOptions options;
        options.seed = seed;
        bytes = qb::data::toGpqaCsv(
            qb::data::generateGpqaRecords(options, split, static_cast<int>(n)));
    }
    qb::writeFileAtomic(out, bytes);
    std::cout << "wrote " << n << (task == Task::Gsm8k ? " gsm8k" : " gpqa") << " problems ("
              << splitText << " split, seed " << seed << ") to " << out << "\n";
    return 0;
}

} // namespace

int cmdData(const std::vector<std::string> &argv)
{
    if (argv.empty() || argv[0] == "--help" || argv[0] == "-h") {
        std::cout << kDataHelp;
        return argv.empty() ? 2 : 0;
    }
    const std::vector<std::string> rest(argv.begin() + 1, argv.end());
    if (argv[0] == "show")
        return show(rest);
    if (argv[0] == "synth")
        return synth(rest);
    throw UsageError("unknown data subcommand '" + argv[0] + "' (expected: show, synth)");
}

} // namespace qbcli
