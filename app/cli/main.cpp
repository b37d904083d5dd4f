// quantbench-cli: the headless front end of QuantBench. Every subcommand prints --help.
#include "api/runtime.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "util/error.h"

#include <cstring>
#include <functional>
#include <iostream>
#include <map>

namespace {

struct Command
{
    const char *summary;
    std::function<int(const std::vector<std::string> &)> run;
};

const std::map<std::string, Command> &commands()
{
    static const std::map<std::string, Command> table = {
        {"run", {"run an experiment file headless and write a run folder", qbcli::cmdRun}},
        {"validate", {"check an experiment file and print its execution order", qbcli::cmdValidate}},
        {"nodes", {"list the node types with their ports and parameters", qbcli::cmdNodes}},
        {"info", {"print threads, BLAS library and build facts", qbcli::cmdInfo}},
        {"quant", {"quantize tensors from .npy files with an error report", qbcli::cmdQuant}},
        {"data", {"print a GSM8K/GPQA file as JSON lines, or generate one", qbcli::cmdData}},
        {"score", {"extract answers from saved completions (JSON lines)", qbcli::cmdScore}},
        {"rl", {"the GRPO loss, advantages, KL and clip fraction of a saved batch",
                qbcli::cmdRl}},
        {"tokenize", {"encode text with a tokenizer.json: ids, tokens, decoded (JSON lines)",
                      qbcli::cmdTokenize}},
        {"chat", {"render a chat template (tokenizer_config.json) for a conversation",
                  qbcli::cmdChat}},
        {"export", {"write a model for other tools: gguf (llama.cpp), gptq / awq (HF folders)",
                    qbcli::cmdExport}},
        {"bench", {"speed: kernels (GB/s vs read bandwidth) and a model per precision",
                   qbcli::cmdBench}},
    };
    return table;
}

void printUsage(std::ostream &out)
{
    out << "usage: quantbench-cli <command> [options]\n\n"
           "QuantBench: quantization and reasoning-recovery workbench (headless).\n\ncommands:\n";
    for (const auto &[name, cmd] : commands())
        out << "  " << name << std::string(12 - std::min<size_t>(name.size(), 11), ' ')
            << cmd.summary << "\n";
    out << "\nRun 'quantbench-cli <command> --help' for a command's options.\n\n"
           "environment:\n"
           "  QB_THREADS=N         threads (default: the core count)\n"
           "  QB_KERNEL_PATH=P     scalar, portable, avx2 or avx512 (default: the best here)\n"
           "  QB_FUSED=0           torch's path instead of the fused kernels (same results up\n"
           "                       to summation order)\n"
           "  QB_ACT_Q8=1          int8 activations for quantized linears (other results)\n"
           "  QB_COMPUTE_BF16=1    bf16 products for dense float32 linears (other results)\n"
           "  QB_HUGE_PAGES=0      packed weights in ordinary pages\n"
           "  QB_CACHE_DIR=DIR     the node cache\n"
           "Settings that change results are part of every cache key and shown by 'info'.\n"
           "An experiment file's 'arithmetic: {activations: float | int8, dense: fp32 | bf16}'\n"
           "sets QB_ACT_Q8's and QB_COMPUTE_BF16's switches for its run, over the environment.\n";
}

} // namespace

int main(int argc, char **argv)
{
    qb::preferPassiveOpenMp(argv);
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
        printUsage(std::cout);
        return args.empty() ? 2 : 0;
    }
    auto it = commands().find(args[0]);
    if (it == commands().end()) {
        std::cerr << "quantbench-cli: unknown command '" << args[0] << "'\n\n";
        printUsage(std::cerr);
        return 2;
    }
    try {
        qb::initRuntime();
        return it->second.run({args.begin() + 1, args.end()});
    } catch (const qbcli::UsageError &e) {
        std::cerr << "quantbench-cli " << args[0] << ": " << e.what() << "\n(see quantbench-cli "
                  << args[0] << " --help)\n";
        return 2;
    } catch (const qb::Error &e) {
        std::cerr << "error: " << e.what() << "\n";
        return 1;
    } catch (const std::exception &e) {
        std::cerr << "internal error: " << e.what() << "\n";
        return 3;
    }
}
