// quantbench-cli export: write a model in another program's file format. The first argument
// chooses the format: gguf here, gptq and awq in cmd_export_hf.cpp.
#include "bench/model_bench.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "model/gguf_export.h"
#include "util/error.h"
#include "util/files.h"

#include <cstdio>
#include <iomanip>
#include <iostream>
#include <unistd.h>

namespace fs = std::filesystem;

namespace qbcli {

namespace {

const char *const kHelp =
    "usage: quantbench-cli export <format> [options]\n\n"
    "Writes a model in another program's file format.\n\nformats:\n"
    "  gguf   a .gguf file for llama.cpp (f32, f16, q8_0, q4_0)\n"
    "  gptq   a Hugging Face GPTQ folder (qweight, qzeros, scales, g_idx) of a quantized model\n"
    "  awq    a Hugging Face AWQ (GEMM) folder of a quantized model\n\n"
    "Run 'quantbench-cli export <format> --help' for its options.\n";

const char *const kGgufHelp =
    "usage: quantbench-cli export gguf --model SOURCE --out FILE.gguf [--type T]\n"
    "                                  [--name NAME] [--json REPORT]\n\n"
    "Writes the model and its tokenizer as a GGUF v3 file that llama.cpp loads (architecture\n"
    "llama, or qwen2 for Qwen2 models; docs/gguf.md). Linear weights are written in --type\n"
    "(quantized ones are requantized from their dequantized weight); norms, biases and\n"
    "token_embd stay f32. Prints one line per tensor with its relative error\n"
    "||file - model|| / ||model||; the file is written atomically (temp file + rename).\n\n"
    "SOURCE:\n"
    "  builtin[:PRESET]   the built-in reasoner (model.builtin node, run through the cache)\n"
    "  DIR                a model folder (dense or a quantized checkpoint)\n"
    "  FILE.gguf          a GGUF file QuantBench can read (re-export to another type)\n"
    "  FILE.yaml          an experiment whose only model.* node is run\n\n"
    "options:\n"
    "  --type T           f32 (default), f16, q8_0 or q4_0\n"
    "  --name NAME        general.name (default: the source's name)\n"
    "  --json FILE        also write the report (per tensor: type, bytes, rel_error) as JSON\n";

int exportGgufCommand(const std::vector<std::string> &argv)
{
    Args args(argv, {"model", "out", "type", "json", "name"}, {"help"});
    if (args.flag("help")) {
        std::cout << kGgufHelp;
        return 0;
    }
    if (!args.positionals().empty())
        throw UsageError("unexpected argument '" + args.positionals()[0] + "'");
    const std::string source = args.required("model");
    const fs::path out = args.required("out");
    qb::GgufExportOptions o;
    o.type = args.value("type").value_or("f32");
    o.name = args.value("name").value_or("");
    try {
        qb::checkGgufExportType(o.type);
    } catch (const qb::Error &e) {
        throw UsageError(std::string("--type: ") + e.what());
    }
    if (o.name.empty())
        o.name = source.rfind("builtin", 0) == 0 ? "tiny-reasoner"
                                                 : fs::path(source).stem().string();
    // A redrawn line on a terminal; in logs one line at each tenth.
    const bool terminal = isatty(2);
    o.progress = [terminal](int64_t done, int64_t total, const std::string &name) {
        if (terminal) {
            std::cerr << "\r[" << done << "/" << total << "] " << name << "\033[K" << std::flush;
            if (done == total)
                std::cerr << "\n";
        } else if (done == total || (done * 10 / total) != ((done - 1) * 10 / total)) {
            std::cerr << "[" << done << "/" << total << "] " << name << "\n";
        }
    };
    const fs::path model = fs::path(source).extension() == ".gguf"
        ? fs::path(source)
        : qb::bench::resolveBenchModel(source, "", [](const std::string &line) {
              std::cerr << line << "\n";
          });
    const qb::GgufExportReport report = qb::exportGgufFromPath(model, out, o);
    std::cout << "wrote " << report.path << " (" << report.architecture << ", " << report.type
              << ", " << report.fileBytes << " bytes)\n"
              << "tokenizer: " << report.tokenizer << "\n";
    double worst = 0.0;
    for (const auto &t : report.tensors) {
        std::cout << "  " << std::left << std::setw(28) << t.name << std::setw(6) << t.type
                  << " rel_error " << std::setprecision(4) << t.relError << "\n";
        worst = std::max(worst, t.relError);
    }
    std::cout << "largest rel_error " << worst << "\n";
    for (const auto &n : report.notes)
        std::cout << "note: " << n << "\n";
    if (const auto json = args.value("json"))
        qb::writeFileAtomic(*json, report.toJson().dump(2) + "\n");
    return 0;
}

} // namespace

int cmdExport(const std::vector<std::string> &args)
{
    if (args.empty() || args[0] == "--help" || args[0] == "-h") {
        std::cout << kHelp;
        return args.empty() ? 2 : 0;
    }
    const std::vector<std::string> rest(args.begin() + 1, args.end());
    if (args[0] == "gguf")
        return exportGgufCommand(rest);
    if (args[0] == "gptq" || args[0] == "awq")
        return exportHfQuant(args[0], rest);
    throw UsageError("unknown export format '" + args[0] + "' (gguf, gptq, awq)");
}

} // namespace qbcli
