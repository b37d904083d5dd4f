// quantbench-cli run / validate / nodes / info.
#include "api/executor.h"
#include "api/experiment.h"
#include "api/runtime.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/progress_printer.h"
#include "quant/kernel_settings.h"

#include <csignal>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <unistd.h>

namespace qbcli {

namespace {

qb::CancelToken *g_cancel = nullptr;

void onSigint(int)
{
    // First Ctrl-C asks the run to stop at its next step; a second one ends the process.
    if (g_cancel && !g_cancel->isCancelled()) {
        g_cancel->cancel();
        const char msg[] = "\ncancelling (Ctrl-C again to abort at once)...\n";
        (void)!::write(2, msg, sizeof msg - 1);
        return;
    }
    std::_Exit(130);
}

const char *kRunHelp =
    "usage: quantbench-cli run PROJECT.yaml [options]\n\n"
    "Runs an experiment headless. Node outputs are cached by content hash, so a re-run or an\n"
    "interrupted run resumes. Ctrl-C cancels cleanly at the next step.\n\n"
    "options:\n"
    "  --out DIR        run folder to create (default runs/<name>-<date>-<time>)\n"
    "  --cache DIR      node cache (default $QB_CACHE_DIR or ~/.cache/quantbench)/nodes\n"
    "  --no-cache       recompute every node\n"
    "  --up-to NODE     run only NODE and the nodes it depends on\n"
    "  --threads N      torch threads (default: all cores)\n"
    "  --set NODE.PARAM=VALUE\n"
    "                   set a node's parameter before running (repeatable; VALUE is YAML;\n"
    "                   a dotted PARAM reaches into an object: eval.decoding.max_new_tokens=64);\n"
    "                   the run folder's experiment.yaml records the result\n"
    "  --quiet          print only the summary\n";

// Takes every "--set X" / "--set=X" out of argv (Args reads each option once).
std::vector<std::string> takeSets(std::vector<std::string> &argv)
{
    std::vector<std::string> sets, rest;
    for (size_t i = 0; i < argv.size(); ++i) {
        if (argv[i] == "--set") {
            if (i + 1 >= argv.size())
                throw UsageError("--set needs NODE.PARAM=VALUE");
            sets.push_back(argv[++i]);
        } else if (argv[i].rfind("--set=", 0) == 0) {
            sets.push_back(argv[i].substr(6));
        } else {
            rest.push_back(argv[i]);
        }
    }
    argv = rest;
    return sets;
}

} // namespace

int cmdRun(const std::vector<std::string> &argvIn)
{
    std::vector<std::string> argv = argvIn;
    const std::vector<std::string> sets = takeSets(argv);
    Args args(argv, {"out", "cache", "up-to", "threads"}, {"no-cache", "quiet", "help"});
    if (args.flag("help")) {
        std::cout << kRunHelp;
        return 0;
    }
    if (args.positionals().size() != 1)
        throw UsageError("expected one experiment file, got " + std::to_string(args.positionals().size()));
    const auto &registry = qb::builtinRegistry();
    qb::Experiment exp = qb::loadExperiment(args.positionals()[0], registry);
    for (const auto &assignment : sets)
        qb::setParameter(exp, assignment, registry);
    qb::RuntimeInfo rt = qb::initRuntime(static_cast<int>(args.integer("threads", 0)));
    qb::RunOptions opt;
    opt.outDir = args.value("out").value_or("");
    opt.cacheDir = args.value("cache").value_or("");
    opt.useCache = !args.flag("no-cache");
    opt.upTo = args.value("up-to").value_or("");
    opt.threads = rt.threads;

    if (!args.flag("quiet")) {
        std::cout << "QuantBench: " << exp.name << " (" << exp.nodes.size() << " nodes), "
                  << rt.threads << " threads, BLAS "
                  << (rt.blasLibrary.empty() ? "unknown" : rt.blasLibrary) << "\n";
        if (!rt.openblas)
            std::cout << "warning: OpenBLAS is not the BLAS in use; fp32 matrix products will be "
                         "slow (install libopenblas0-pthread)\n";
        // The experiment's `arithmetic:` over the environment's switches.
        const auto &a = exp.arithmetic;
        if (const std::string tag = qb::resultArithmeticTag(a.int8Activations, a.bf16Dense);
            !tag.empty())
            std::cout << "arithmetic: " << tag << " (not the default; results and cache keys "
                      << "carry it)\n";
        if (a.bf16Dense.value_or(qb::bf16ComputeEnabled()) && !qb::bf16ComputeSupported())
            std::cout << "note: bf16 dense products were asked for and do not run here (they need "
                         "AVX-512 BF16 and the avx512 kernel path): float32 it is\n";
    }
    qb::CancelToken cancel;
    g_cancel = &cancel;
    std::signal(SIGINT, onSigint);
    std::signal(SIGTERM, onSigint);
    ProgressPrinter printer(std::cout, ::isatty(1) != 0, args.flag("quiet"));
    const qb::RunSummary summary = qb::runExperiment(
        exp, registry, opt, [&printer](const qb::Event &e) { printer.onEvent(e); }, cancel);
    g_cancel = nullptr;
    printer.finish();
    printer.printSummary(summary);
    if (summary.status == "failed") {
        std::cerr << "error: " << summary.error << "\n";
        return 1;
    }
    return summary.status == "cancelled" ? 130 : 0;
}

int cmdValidate(const std::vector<std::string> &argv)
{
    Args args(argv, {}, {"help"});
    if (args.flag("help")) {
        std::cout << "usage: quantbench-cli validate PROJECT.yaml\n\n"
                     "Checks an experiment file (keys, types, ranges, connections, cycles) and\n"
                     "prints the order its nodes would run in.\n";
        return 0;
    }
    if (args.positionals().size() != 1)
        throw UsageError("expected one experiment file");
    const auto exp = qb::loadExperiment(args.positionals()[0], qb::builtinRegistry());
    std::cout << args.positionals()[0] << ": ok\norder:";
    for (const auto &id : qb::executionOrder(exp))
        std::cout << " " << id;
    std::cout << "\n";
    return 0;
}

int cmdNodes(const std::vector<std::string> &argv)
{
    Args args(argv, {}, {"help", "json"});
    if (args.flag("help")) {
        std::cout << "usage: quantbench-cli nodes [--json]\n\nLists every node type an experiment "
                     "file may use, with ports and parameters.\n";
        return 0;
    }
    nlohmann::json all = nlohmann::json::array();
    for (const auto *spec : qb::builtinRegistry().all()) {
        nlohmann::json params = nlohmann::json::array();
        std::function<nlohmann::json(const qb::ParamSpec &)> toJson = [&](const qb::ParamSpec &p) {
            nlohmann::json j{{"name", p.name}, {"kind", qb::toString(p.kind)},
                             {"description", p.description}};
            if (!p.defaultValue.is_null())
                j["default"] = p.defaultValue;
            if (p.min)
                j["min"] = *p.min;
            if (p.max)
                j["max"] = *p.max;
            if (!p.choices.empty())
                j["choices"] = p.choices;
            for (const auto &f : p.fields)
                j["fields"].push_back(toJson(f));
            return j;
        };
        for (const auto &p : spec->params)
            params.push_back(toJson(p));
        nlohmann::json inputs = nlohmann::json::array();
        for (const auto &p : spec->inputs)
            inputs.push_back({{"name", p.name}, {"type", p.type}, {"multiple", p.multiple},
                              {"optional", p.optional}});
        all.push_back({{"type", spec->type}, {"category", spec->category},
                       {"description", spec->description}, {"inputs", inputs},
                       {"output", spec->outputType}, {"params", params}});
    }
    if (args.flag("json")) {
        std::cout << all.dump(2) << "\n";
        return 0;
    }
    for (const auto &n : all) {
        std::cout << n["type"].get<std::string>() << "  [" << n["category"].get<std::string>()
                  << "] -> " << n["output"].get<std::string>() << "\n    "
                  << n["description"].get<std::string>() << "\n";
        for (const auto &i : n["inputs"])
            std::cout << "    input " << i["name"].get<std::string>() << ": "
                      << i["type"].get<std::string>() << (i["multiple"].get<bool>() ? " (many)" : "")
                      << (i["optional"].get<bool>() ? " (optional)" : "") << "\n";
        for (const auto &p : n["params"])
            std::cout << "    param " << p["name"].get<std::string>() << " ("
                      << p["kind"].get<std::string>() << ")"
                      << (p.contains("default") ? " = " + p["default"].dump() : "") << "\n";
    }
    return 0;
}

int cmdInfo(const std::vector<std::string> &argv)
{
    Args args(argv, {"threads"}, {"help"});
    if (args.flag("help")) {
        std::cout << "usage: quantbench-cli info [--threads N]\n\nPrints the torch thread count, "
                     "the threads a parallel loop of the core really gets, the BLAS library "
                     "in use and the arithmetic results are computed with (default, or what "
                     "QB_ACT_Q8=1 / QB_COMPUTE_BF16=1 changed); exits 1 unless OpenBLAS serves "
                     "and every thread takes part.\n";
        return 0;
    }
    const auto rt = qb::initRuntime(static_cast<int>(args.integer("threads", 0)));
    std::cout << "threads: " << rt.threads << "\nparallel loop threads: " << rt.parallelThreads
              << "\nblas: " << rt.blasLibrary << "\nopenblas: " << (rt.openblas ? "yes" : "no")
              << "\n";
    const std::string arithmetic = qb::resultArithmeticTag();
    std::cout << "arithmetic: " << (arithmetic.empty() ? "default" : arithmetic) << "\n";
    if (qb::bf16ComputeEnabled() && !qb::bf16ComputeActive())
        std::cout << "note: QB_COMPUTE_BF16=1 asked for bf16 compute, which does not run here "
                     "(it needs AVX-512 BF16, the avx512 kernel path and the fused kernels): "
                     "float32 it is\n";
    return rt.openblas && rt.parallelThreads == rt.threads ? 0 : 1;
}

} // namespace qbcli
