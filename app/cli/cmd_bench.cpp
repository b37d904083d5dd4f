// quantbench-cli bench kernels: read bandwidth, then the fused quantized kernels and libtorch's
// float32 linear at decode / small-batch / prefill shapes (core/bench/kernel_bench.h).
// quantbench-cli bench model: memory and generation speed of one model per precision
// (core/bench/model_bench.h).
#include "bench/kernel_bench.h"
#include "bench/model_bench.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "util/error.h"

#include <fstream>
#include <iostream>
#include <optional>

namespace qbcli {

namespace {

// The optional --json FILE of a bench command: opened before minutes of measuring (an unwritable
// path fails at once), written with the report at the end.
class JsonReport
{
public:
    explicit JsonReport(std::optional<std::string> path) : m_path(std::move(path))
    {
        if (m_path) {
            m_out.open(*m_path);
            if (!m_out)
                throw qb::Error("cannot write " + *m_path);
        }
    }
    template <class Json> void write(const Json &j)
    {
        if (!m_path)
            return;
        m_out << j.dump(2) << "\n";
        if (!m_out)
            throw qb::Error("cannot write " + *m_path);
    }

private:
    std::optional<std::string> m_path;
    std::ofstream m_out;
};

const char *kBenchUsage
    = "usage: quantbench-cli bench kernels [--json FILE] [--quick] [--set-mib N] [--repeats N]\n"
      "       quantbench-cli bench model PROJECT_OR_MODEL [--json FILE] [--quick]\n"
      "                                  [--precisions LIST] [--batch N] [options]\n\n"
      "  kernels  quantized GEMV/GEMM speed against the machine's read bandwidth\n"
      "  model    weight memory, peak memory, prefill and decode tokens/s per precision\n\n"
      "Run 'quantbench-cli bench kernels --help' or 'bench model --help' for details.\n";

const char *kBenchHelp
    = "usage: quantbench-cli bench kernels [--json FILE] [--quick] [--set-mib N] [--repeats N]\n\n"
      "Measures the machine's read bandwidth (a streaming float32 sum over a 1 GiB buffer,\n"
      "each thread reading its part as one stream and as two side by side, the best of the\n"
      "repeats), then y = x W^T through the quantized linears and through float32 paths:\n"
      "  formats  int8 (per output channel), int4-g128 (asymmetric: the int\n"
      "           method's default), nf4-dq-b64 (NF4, blocks of\n"
      "           64, double-quantized absmax), int3-g128 and int2-g64 (asymmetric; float\n"
      "           activations only), fp32 (libtorch's at::linear and at::mv, and\n"
      "           our GEMM over a weight packed once), fp32-bf16 (the same weights with bf16\n"
      "           compute, QB_COMPUTE_BF16's path, where the CPU has AVX-512 BF16)\n"
      "  shapes   rows x 4096 x 4096 with rows 1 (decode GEMV), 8 (the largest batch the fused\n"
      "           float kernels take), 16 and 512 (a float GEMM over weights decoded a panel\n"
      "           at a time), and the built-in reasoner's linears (256x256, 128x256, 640x256,\n"
      "           256x640) at decode\n"
      "  paths    int8, int4 and nf4 also with int8 activations (\"q8\", llama.cpp's\n"
      "           q8_0 arithmetic, QB_ACT_Q8's path) at every row count\n"
      "Each case cycles through enough random matrices that one pass reads --set-mib of weights\n"
      "(default 256, beyond any cache), so weights come from DRAM. Passes alternate with\n"
      "streaming sums over a buffer of the same size (at least 7 pairs at one row; each the\n"
      "faster of the one- and two-stream sums); the best\n"
      "pass is reported as time per call and GB/s of packed weight bytes (codes + scales +\n"
      "zero points/absmax, any layout padding included), the best sum as \"read\", the median\n"
      "over the pairs of pass GB/s / sum GB/s as \"of read\" (memory rates drift by tens of\n"
      "percent on shared machines), the weight rate over the highest rate seen anywhere in\n"
      "the run as \"of best\", and GFLOP/s (2 rows out in / time).\n"
      "Quantized weights of 2 MiB and more are placed in memory advised for transparent huge\n"
      "pages (QB_HUGE_PAGES=0: ordinary pages); the read probes and an fp32 at::mv row use the\n"
      "same placement, so the speed-ups never credit the placement to the quantization.\n"
      "The kernel path is QB_KERNEL_PATH (scalar, portable, avx2, avx512) or the best this CPU\n"
      "has; threads are QB_THREADS or the core count.\n\n"
      "options:\n"
      "  --json FILE    also write the table as JSON\n"
      "  --quick        2 repeats, 128 MiB sets, 512 MiB bandwidth buffer, 4096 shapes only\n"
      "                 (caches flatter less than 2x still; for a quick look)\n"
      "  --set-mib N    weight bytes cycled per case (default 256; 128 with --quick)\n"
      "  --repeats N    passes per case, best reported (default 5; 2 with --quick)\n";

const char *kModelHelp
    = "usage: quantbench-cli bench model PROJECT_OR_MODEL [--json FILE] [--quick]\n"
      "                                  [--precisions LIST] [--batch N] [--node ID]\n"
      "                                  [--repeats N] [--new-tokens N] [--prefill-tokens N]\n\n"
      "The speed table per precision of one model: fp32, then each precision (the dense model\n"
      "loaded afresh and quantized as the quantize node does, every linear it selects):\n"
      "  weights MiB      every weight as stored (quantized linears: codes + scales + zero\n"
      "                   points/absmax; embeddings and norms fp32)\n"
      "  bits/weight      8 x stored bytes / parameters of the quantized linears\n"
      "  peak RSS MiB     the process's resident-set high-water mark (VmHWM, reset after the\n"
      "                   model is built) during that precision's timed runs; includes the\n"
      "                   process baseline (libtorch, tokenizer), printed above the table\n"
      "  prefill tok/s    one prompt of --prefill-tokens tokens (default min(256, positions-1))\n"
      "                   through the model, one token drawn\n"
      "  decode tok/s     greedy, no end token (every row draws --new-tokens, default 128),\n"
      "                   at batch 1 (4 prompts one after another) and at --batch rows (default\n"
      "                   64) over generated GSM-style test prompts, the same for every\n"
      "                   precision; the prefills' own time (measured inside generation) is\n"
      "                   taken off, so prompt processing does not count as decoding\n"
      "  vs fp32          each rate divided by fp32's\n"
      "Every shape runs once to warm up, then --repeats times (default 5); medians are shown.\n"
      "The table goes to stdout (Markdown), progress to stderr.\n\n"
      "PROJECT_OR_MODEL:\n"
      "  builtin[:PRESET]   the built-in reasoner (model.builtin node, default tiny-reasoner;\n"
      "                     run through the node cache like 'run' does)\n"
      "  DIR                a dense model folder (config.json + safetensors); a quantized,\n"
      "                     GPTQ/AWQ or adapter folder, or a FILE.gguf, is measured as\n"
      "                     loaded, beside its own weights dequantized to fp32\n"
      "  FILE.yaml          an experiment; its model.* node (or --node ID) is run and measured\n\n"
      "options:\n"
      "  --precisions LIST  comma-separated; each item is a name of the default set (int8,\n"
      "                     llm_int8, nf4-b64, nf4-dq, int4-g128, int3-g128, int2-g64), a\n"
      "                     method label (nf4-dq-b64, int4-g128-asym), or a method with\n"
      "                     settings written as the quantize node's overrides:\n"
      "                     \"nf4 block_size=128 double_quant=true\",\n"
      "                     \"int bits=4 group_size=32\"; fp32-bf16 is the float32 weights\n"
      "                     with bf16 compute (QB_COMPUTE_BF16's path; AVX-512 BF16 CPUs)\n"
      "                     (fp32 is always measured first; default: the whole default set)\n"
      "  --batch N          rows decoded together in the batched decode (default 64)\n"
      "  --json FILE        also write the rows as JSON\n"
      "  --quick            2 repeats, 32 new tokens, 2 prompts at batch 1 (a quick look)\n"
      "  --node ID          which model node of an experiment file\n"
      "  --repeats N        timed runs per shape (default 5; 2 with --quick)\n"
      "  --new-tokens N     new tokens per row when decoding (default 128; 32 with --quick)\n"
      "  --prefill-tokens N prompt length of the prefill measurement\n";

int benchModel(const std::vector<std::string> &argv)
{
    Args args(argv, {"json", "precisions", "batch", "node", "repeats", "new-tokens",
                     "prefill-tokens"},
              {"quick", "help"});
    if (args.flag("help")) {
        std::cout << kModelHelp;
        return 0;
    }
    if (args.positionals().size() != 1)
        throw UsageError(args.positionals().empty()
                             ? "bench model needs a model: builtin[:PRESET], a folder or a project"
                             : "unexpected argument '" + args.positionals()[1] + "'");
    qb::bench::ModelBenchOptions o;
    if (args.flag("quick")) {
        o.repeats = 2;
        o.newTokens = 32;
        o.batch1Prompts = 2;
    }
    const long long batch = args.integer("batch", o.batch);
    const long long repeats = args.integer("repeats", o.repeats);
    const long long newTokens = args.integer("new-tokens", o.newTokens);
    const long long prefill = args.integer("prefill-tokens", 0);
    if (batch < 1 || batch > 4096)
        throw UsageError("--batch must be in 1..4096");
    if (repeats < 1 || repeats > 1000)
        throw UsageError("--repeats must be in 1..1000");
    if (newTokens < 2 || newTokens > 1000000)
        throw UsageError("--new-tokens must be >= 2");
    if (prefill < 0)
        throw UsageError("--prefill-tokens must be >= 1 (0: the default)");
    o.batch = static_cast<int>(batch);
    o.repeats = static_cast<int>(repeats);
    o.newTokens = newTokens;
    o.prefillTokens = prefill;
    if (const auto list = args.value("precisions"))
        o.precisions = qb::bench::splitPrecisions(*list);
    for (const auto &p : o.precisions) // a bad name fails before minutes of loading and measuring
        qb::bench::checkPrecision(p);
    JsonReport out(args.value("json"));
    auto progress = [](const std::string &line) { std::cerr << line << "\n"; };
    const std::string source = args.positionals()[0];
    const auto dir
        = qb::bench::resolveBenchModel(source, args.value("node").value_or(""), progress);
    auto report = qb::bench::runModelBench(dir, o, progress);
    report.model = source;
    std::cout << report.table();
    out.write(report.toJson());
    return 0;
}

} // namespace

int cmdBench(const std::vector<std::string> &argv)
{
    if (argv.empty() || argv[0] == "--help" || argv[0] == "-h") {
        std::cout << kBenchUsage;
        return argv.empty() ? 2 : 0;
    }
    if (argv[0] == "model")
        return benchModel({argv.begin() + 1, argv.end()});
    if (argv[0] != "kernels")
        throw UsageError("unknown bench subcommand '" + argv[0] + "' (expected: kernels, model)");
    Args args({argv.begin() + 1, argv.end()}, {"json", "set-mib", "repeats"}, {"quick", "help"});
    if (args.flag("help")) {
        std::cout << kBenchHelp;
        return 0;
    }
    if (!args.positionals().empty())
        throw UsageError("unexpected argument '" + args.positionals()[0] + "'");
    qb::bench::KernelBenchOptions o;
    o.quick = args.flag("quick");
    if (o.quick) {
        o.repeats = 2;
        o.setBytes = int64_t(128) << 20;
        o.bandwidthBytes = int64_t(512) << 20;
    }
    const long long mib = args.integer("set-mib", o.setBytes >> 20);
    const long long repeats = args.integer("repeats", o.repeats);
    if (mib < 1 || mib > 65536)
        throw UsageError("--set-mib must be in 1..65536");
    if (repeats < 1 || repeats > 1000)
        throw UsageError("--repeats must be in 1..1000");
    o.setBytes = static_cast<int64_t>(mib) << 20;
    o.repeats = static_cast<int>(repeats);
    JsonReport out(args.value("json"));
    const auto report
        = qb::bench::runKernelBench(o, [](const std::string &line) { std::cerr << line << "\n"; });
    std::cout << report.table();
    out.write(report.toJson());
    return 0;
}

} // namespace qbcli
