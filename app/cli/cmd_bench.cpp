// quantbench-cli bench kernels: read bandwidth, then the fused quantized kernels and libtorch's
// float32 linear at decode / small-batch / prefill shapes (core/bench/kernel_bench.h).
#include "bench/kernel_bench.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "util/error.h"

#include <fstream>
#include <iostream>

namespace qbcli {

namespace {

const char *kBenchHelp
    = "usage: quantbench-cli bench kernels [--json FILE] [--quick] [--set-mib N] [--repeats N]\n\n"
      "Measures the machine's read bandwidth (a streaming float32 sum over a 1 GiB buffer,\n"
      "best of the repeats), then y = x W^T through the quantized linears and through\n"
      "libtorch's float32 at::linear:\n"
      "  formats  int8 (per output channel), int4-g128 (asymmetric: the int\n"
      "           method's default), nf4-dq-b64 (NF4, blocks of\n"
      "           64, double-quantized absmax), fp32 (at::linear)\n"
      "  shapes   rows x 4096 x 4096 with rows 1 (decode GEMV), 16 (the largest batch the fused\n"
      "           kernels take) and 512 (prefill: dequantize + matmul), and the built-in\n"
      "           reasoner's linears (256x256, 128x256, 640x256, 256x640) at decode\n"
      "Each case cycles through enough random matrices that one pass reads --set-mib of weights\n"
      "(default 256, beyond any cache), so weights come from DRAM; the best pass is reported as\n"
      "time per call, GB/s of packed weight bytes (codes + scales + zero points/absmax), that\n"
      "rate as a fraction of the read bandwidth, and GFLOP/s (2 rows out in / time).\n"
      "The kernel path is QB_KERNEL_PATH (scalar, portable, avx2, avx512) or the best this CPU\n"
      "has; threads are QB_THREADS or the core count.\n\n"
      "options:\n"
      "  --json FILE    also write the table as JSON\n"
      "  --quick        2 repeats, 128 MiB sets, 512 MiB bandwidth buffer, 4096 shapes only\n"
      "                 (caches flatter less than 2x still; for a quick look)\n"
      "  --set-mib N    weight bytes cycled per case (default 256; 128 with --quick)\n"
      "  --repeats N    passes per case, best reported (default 5; 2 with --quick)\n";

} // namespace

int cmdBench(const std::vector<std::string> &argv)
{
    if (argv.empty() || argv[0] == "--help" || argv[0] == "-h") {
        std::cout << kBenchHelp;
        return argv.empty() ? 2 : 0;
    }
    if (argv[0] != "kernels")
        throw UsageError("unknown bench subcommand '" + argv[0] + "' (expected: kernels)");
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
    const auto json = args.value("json");
    std::ofstream jsonOut;
    if (json) { // fail before minutes of measuring, not after
        jsonOut.open(*json);
        if (!jsonOut)
            throw qb::Error("cannot write " + *json);
    }
    const auto report
        = qb::bench::runKernelBench(o, [](const std::string &line) { std::cerr << line << "\n"; });
    std::cout << report.table();
    if (json) {
        jsonOut << report.toJson().dump(2) << "\n";
        if (!jsonOut)
            throw qb::Error("cannot write " + *json);
    }
    return 0;
}

} // namespace qbcli
