// The kernel benchmark behind quantbench-cli bench kernels. See kernel_bench.h.
#include "bench/kernel_bench.h"

#include "kernels/fused_linear.h"
#include "kernels/fused_linear_q8.h"
#include "kernels/gemm_bf16.h"
#include "kernels/read_bandwidth.h"
#include "model/linear.h"
#include "quant/fused_kernels.h"
#include "quant/int8_linear.h"
#include "quant/int_group_linear.h"
#include "quant/nf4_linear.h"
#include "util/error.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <limits>
#include <memory>
#include <stdexcept>

namespace qb::bench {

namespace {

using Clock = std::chrono::steady_clock;

double seconds(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

volatile float g_sink = 0.0f; // keeps the streaming sums from being optimized away

// hugePages: the buffer placed as the quantized weights are (packedWeightStorage).
at::Tensor readBuffer(int64_t bytes, bool hugePages)
{
    at::Tensor buf = at::full({bytes / 4}, 1.0f, at::kFloat); // touches every page before timing
    return hugePages ? packedWeightStorage(buf) : buf;
}

// One streaming sum over buf, split over the intra-op threads, each thread reading its part as
// `streams` sequential streams (kernels/read_bandwidth.h).
void readPass(const at::Tensor &buf, int streams)
{
    const int64_t n = buf.numel();
    const float *p = buf.data_ptr<float>();
    const auto path = kernels::active_kernel_path();
    const int threads = at::get_num_threads();
    std::vector<float> parts(threads, 0.0f);
    at::parallel_for(0, threads, 1, [&](int64_t b, int64_t e) {
        for (int64_t t = b; t < e; ++t) {
            const int64_t lo = n * t / threads, hi = n * (t + 1) / threads;
            parts[t] = kernels::stream_sum(p + lo, hi - lo, path, streams);
        }
    });
    float s = 0.0f;
    for (float v : parts)
        s += v;
    g_sink = s;
}

// The machine's read rate over buf: the faster of one and two streams a thread. On the 2-core VM
// two streams read a cold 256 MiB 1.00-1.22x as fast as one (medians), but either can be the
// faster of a single pair. Reading two streams right after one stream's pass gave the same rates
// as reading them after a kernel pass (medians 0.94-1.03x): the first leaves nothing in cache
// that the second finds.
double probeGBs(const at::Tensor &buf)
{
    double best = 0.0;
    for (int streams : {1, 2}) {
        const auto t0 = Clock::now();
        readPass(buf, streams);
        best = std::max(best, static_cast<double>(buf.numel() * 4) / seconds(t0) / 1e9);
    }
    return best;
}

// Best of `repeats` after one warm-up.
double measureReadGBs(const at::Tensor &buf, int repeats)
{
    (void)probeGBs(buf);
    double best = 0.0;
    for (int i = 0; i < repeats; ++i)
        best = std::max(best, probeGBs(buf));
    return best;
}

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n == 0 ? 0.0 : n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

struct Format
{
    std::string name;
    // A random packed matrix [out, in] (every byte pattern is a valid code).
    std::function<std::shared_ptr<LinearOp>(int64_t out, int64_t in)> make;
    bool q8 = false; // also measured with int8 activations (kernels/fused_linear_q8.h)
};

std::vector<Format> formats()
{
    std::vector<Format> f;
    f.push_back({"int8", [](int64_t out, int64_t in) -> std::shared_ptr<LinearOp> {
                     return std::make_shared<Int8RowLinear>(
                         at::randint(-127, 128, {out, in}, at::kChar),
                         at::rand({out}) * 0.01 + 1e-3, at::Tensor());
                 }, true});
    // The int method's default: asymmetric, a uint8 zero point per group.
    auto intGroup = [](int bits, int group) {
        return [bits, group](int64_t out, int64_t in) -> std::shared_ptr<LinearOp> {
            const kernels::IntGroupConfig cfg{bits, group, false};
            const int64_t groups = kernels::int_group_groups_per_row(cfg, in);
            std::map<std::string, at::Tensor> t{
                {"qweight", at::randint(0, 256, {out, kernels::int_group_row_bytes(bits, in)},
                                        at::kByte)},
                {"scales", at::rand({out, groups}) * 0.01 + 1e-3},
                {"qzeros", at::randint(0, 1 << bits, {out, groups}, at::kByte)}};
            return std::make_shared<IntGroupLinear>(cfg, out, in, std::move(t));
        };
    };
    f.push_back({"int4-g128", intGroup(4, 128), true});
    f.push_back({"nf4-dq-b64", [](int64_t out, int64_t in) -> std::shared_ptr<LinearOp> {
                     const int64_t n = out * in, blocks = (n + 63) / 64;
                     std::map<std::string, at::Tensor> t{
                         {"qweight", at::randint(0, 256, {(n + 1) / 2}, at::kByte)},
                         {"absmax_codes", at::randint(0, 256, {blocks}, at::kByte)},
                         {"absmax_scales", at::rand({(blocks + 255) / 256}) * 0.05 + 1e-3},
                         {"absmax_offset", at::full({1}, 0.05f, at::kFloat)}};
                     return std::make_shared<Nf4Linear>(kernels::Codebook4::Nf4, out, in, 64,
                                                        std::move(t));
                 }, true});
    // The study's 3- and 2-bit formats (float activations only: no int8-activation kernels).
    f.push_back({"int3-g128", intGroup(3, 128), false});
    f.push_back({"int2-g64", intGroup(2, 64), false});
    return f;
}

struct Shape
{
    int64_t out, in;
    std::vector<int64_t> rows;
};

} // namespace

KernelBenchReport runKernelBench(const KernelBenchOptions &o,
                                 const std::function<void(const std::string &)> &progress)
{
    at::NoGradGuard noGrad;
    KernelBenchReport report;
    report.threads = at::get_num_threads();
    try {
        report.kernelPath = kernels::kernel_path_name(kernels::active_kernel_path());
    } catch (const std::invalid_argument &e) {
        throw Error(e.what());
    }
    const int repeats = std::max(1, o.repeats);
    report.readGBs = measureReadGBs(readBuffer(o.bandwidthBytes, false), repeats);
    report.hugePageMode = transparentHugePageMode();
    report.hugePageWeights = hugePageWeightsEnabled();
    // The probe run after every case, placed as the quantized weights are.
    const at::Tensor probe = readBuffer(o.setBytes, report.hugePageWeights);
    if (report.hugePageWeights)
        report.readHugeGBs = measureReadGBs(readBuffer(o.bandwidthBytes, true), repeats);
    if (progress) {
        char line[160];
        if (report.hugePageWeights)
            std::snprintf(line, sizeof line,
                          "read bandwidth %.2f GB/s (4 KiB pages), %.2f GB/s (weights' placement)",
                          report.readGBs, report.readHugeGBs);
        else
            std::snprintf(line, sizeof line, "read bandwidth %.2f GB/s (4 KiB pages)",
                          report.readGBs);
        progress(line);
    }

    std::vector<Shape> shapes{{4096, 4096, {1, 8, 16, 512}}};
    if (!o.quick) // the built-in reasoner's linears (q/o, k/v, gate/up, down) at decode
        for (auto [out, in] : {std::pair<int64_t, int64_t>{256, 256}, {128, 256}, {640, 256},
                               {256, 640}})
            shapes.push_back({out, in, {1}});

    auto runCase = [&](const std::string &name, const std::string &path, int64_t rows,
                       const Shape &s, int64_t bytes, int64_t count,
                       const std::function<void(int64_t, const at::Tensor &)> &call) {
        const at::Tensor x = at::randn({rows, s.in});
        auto pass = [&] {
            for (int64_t i = 0; i < count; ++i)
                call(i, x);
        };
        // Warm up for 0.25 s of calls, as a model decoding steadily would: OpenBLAS's threads
        // (left spinning ~0.1 s by a product before) have parked by then, and the cores are
        // awake (after an idle pause instead, each call first waited for the vCPUs to wake:
        // INT8 GEMV 20 GB/s against 30).
        for (const auto t0 = Clock::now(); seconds(t0) < 0.25;)
            pass();
        // Passes of the case alternate with streaming reads of a buffer as large as its weight
        // set, and "of read" is the median over those pairs of the case's rate over the read's:
        // this VM's memory rate moves by tens of percent within a minute, so a rate is only
        // compared with the machine as it was around it. Decode (one row) takes at least seven
        // pairs; its fraction is the one the targets name.
        const int pairs = rows == 1 ? std::max(repeats, 7) : repeats;
        const double setBytes = static_cast<double>(bytes) * static_cast<double>(count);
        double t = std::numeric_limits<double>::infinity(), bestRead = 0.0;
        std::vector<double> ratios;
        for (int i = 0; i < pairs; ++i) {
            const auto t0 = Clock::now();
            pass();
            const double caseSeconds = seconds(t0);
            const double read = probeGBs(probe);
            t = std::min(t, caseSeconds);
            bestRead = std::max(bestRead, read);
            ratios.push_back(setBytes / caseSeconds / 1e9 / read);
        }
        KernelBenchRow r;
        r.format = name;
        r.path = path;
        r.rows = rows;
        r.out = s.out;
        r.in = s.in;
        r.weightBytes = bytes;
        r.matrices = count;
        r.secondsPerCall = t / static_cast<double>(count);
        r.weightGBs = static_cast<double>(bytes) / r.secondsPerCall / 1e9;
        r.gflops = 2.0 * rows * s.out * s.in / r.secondsPerCall / 1e9;
        r.readGBs = bestRead;
        r.fractionOfRead = median(ratios);
        report.rows.push_back(r);
        if (progress) {
            char line[200];
            std::snprintf(line, sizeof line, "%-11s %-16s %4lldx%lldx%lld  %8.1f us  %6.2f GB/s",
                          name.c_str(), path.c_str(), static_cast<long long>(rows),
                          static_cast<long long>(s.out), static_cast<long long>(s.in),
                          r.secondsPerCall * 1e6, r.weightGBs);
            progress(line);
        }
    };

    for (const Shape &s : shapes) {
        for (const Format &f : formats()) {
            std::vector<std::shared_ptr<LinearOp>> ops{f.make(s.out, s.in)};
            const int64_t bytes = ops[0]->weightBytes();
            const int64_t count = std::max<int64_t>(1, (o.setBytes + bytes - 1) / bytes);
            while (static_cast<int64_t>(ops.size()) < count)
                ops.push_back(f.make(s.out, s.in));
            const auto *q = dynamic_cast<const QuantizedLinear *>(ops[0].get());
            for (int64_t rows : s.rows) {
                const bool fused = q && rows <= q->fusedMaxRows();
                // Beyond the fused kernels' rows: the GEMM decoding the weight a panel at a time
                // (named "dequant+matmul" until 2026-12-07; the same path).
                runCase(f.name, fused ? "fused " + report.kernelPath : "panel gemm", rows, s,
                        bytes, count,
                        [&](int64_t i, const at::Tensor &x) { (void)ops[i]->forward(x); });
                // Int8 activations take every row count (prefill too: blocks of weight rows
                // against blocks of activation rows, kernels/fused_linear_q8.cpp).
                if (q && f.q8 && s.in % 64 == 0) {
                    const bool was = int8ActivationKernelsEnabled();
                    setInt8ActivationKernels(true);
                    runCase(f.name, kernels::q8_vnni_supported() ? "q8 avx512-vnni" : "q8 scalar",
                            rows, s, bytes, count,
                            [&](int64_t i, const at::Tensor &x) { (void)ops[i]->forward(x); });
                    setInt8ActivationKernels(was);
                }
            }
        }
        // libtorch float32: at::linear over a set of the same size.
        const int64_t bytes = s.out * s.in * 4;
        const int64_t count = std::max<int64_t>(1, (o.setBytes + bytes - 1) / bytes);
        std::vector<at::Tensor> ws;
        for (int64_t i = 0; i < count; ++i)
            ws.push_back(at::randn({s.out, s.in}) * 0.02);
        for (int64_t rows : s.rows) {
            runCase("fp32", "at::linear", rows, s, bytes, count,
                    [&](int64_t i, const at::Tensor &x) { (void)at::linear(x, ws[i]); });
            if (rows == 1) { // the BLAS matrix-vector product, in case GEMM with one row is slower
                runCase("fp32", "at::mv", rows, s, bytes, count,
                        [&](int64_t i, const at::Tensor &x) { (void)at::mv(ws[i], x[0]); });
                // The same over weights placed as the quantized ones are, so that the speed-up
                // lines never credit the placement to the quantization.
                if (report.hugePageWeights && bytes >= (int64_t(2) << 20)) {
                    std::vector<at::Tensor> placed;
                    for (const auto &w : ws)
                        placed.push_back(packedWeightStorage(w));
                    runCase("fp32", "at::mv huge pages", rows, s, bytes, count,
                            [&](int64_t i, const at::Tensor &x) { (void)at::mv(placed[i], x[0]); });
                }
            }
        }
        // Our packed float32 GEMM (DenseLinear's path, kernels/gemm_f32.h) over copies packed
        // once, and the same weights with bf16 compute (kernels/gemm_bf16.h: a different
        // arithmetic, so its own format row) where the CPU runs it.
        {
            std::vector<at::Tensor> packed;
            for (const auto &w : ws)
                packed.push_back(packForGemm(w));
            for (int64_t rows : s.rows)
                runCase("fp32", "gemm_f32 packed", rows, s, bytes, count,
                        [&](int64_t i, const at::Tensor &x) {
                            (void)gemmF32Linear(x, packed[i], s.out, s.in, at::Tensor());
                        });
        }
        if (kernels::gemm_bf16_supported()
            && kernels::active_kernel_path() == kernels::KernelPath::Avx512) {
            const int64_t bytes16 = kernels::gemm_bf16_packed_words(s.out, s.in) * 4;
            const int64_t count16 = std::max<int64_t>(1, (o.setBytes + bytes16 - 1) / bytes16);
            std::vector<at::Tensor> packed;
            for (int64_t i = 0; i < count16; ++i)
                packed.push_back(packForGemmBf16(ws[static_cast<size_t>(i) % ws.size()]));
            for (int64_t rows : s.rows)
                runCase("fp32-bf16", "gemm_bf16", rows, s, bytes16, count16,
                        [&](int64_t i, const at::Tensor &x) {
                            (void)gemmBf16Linear(x, packed[i], s.out, s.in, at::Tensor());
                        });
        }
    }
    // Every pass reads a weight set beyond the caches, so the fastest pass of any path is a read
    // rate this machine reaches too; where it beats the streaming sum (libtorch's BLAS GEMV
    // reads twice as fast as the sum on the 2-core development VM), the fractions use it.
    report.bestReadGBs = report.readGBs;
    report.bestReadPath = "streaming sum";
    if (report.readHugeGBs > report.bestReadGBs) {
        report.bestReadGBs = report.readHugeGBs;
        report.bestReadPath = "streaming sum, huge pages";
    }
    for (const auto &r : report.rows) {
        const std::string what = r.format + " " + r.path + " " + std::to_string(r.rows) + "x"
            + std::to_string(r.out) + "x" + std::to_string(r.in);
        if (r.readGBs > report.bestReadGBs) {
            report.bestReadGBs = r.readGBs;
            report.bestReadPath = "streaming sum after " + what;
        }
        if (r.weightGBs > report.bestReadGBs) {
            report.bestReadGBs = r.weightGBs;
            report.bestReadPath = what;
        }
    }
    for (auto &r : report.rows)
        r.fractionOfBest = report.bestReadGBs > 0 ? r.weightGBs / report.bestReadGBs : 0;
    return report;
}

std::string KernelBenchReport::table() const
{
    std::string out;
    char line[256];
    std::snprintf(line, sizeof line,
                  "read bandwidth %.2f GB/s (streaming float32 sum, %d threads, one or two "
                  "streams each); kernel path %s\n",
                  readGBs, threads, kernelPath.c_str());
    out += line;
    if (hugePageWeights)
        std::snprintf(line, sizeof line,
                      "read bandwidth %.2f GB/s over the quantized weights' placement (2 MiB "
                      "pages advised; THP mode %s)\n",
                      readHugeGBs, hugePageMode.c_str());
    else
        std::snprintf(line, sizeof line,
                      "quantized weights on ordinary pages (QB_HUGE_PAGES=0; THP mode %s)\n",
                      hugePageMode.c_str());
    out += line;
    std::snprintf(line, sizeof line, "highest read rate measured %.2f GB/s (%s)\n", bestReadGBs,
                  bestReadPath.c_str());
    out += line;
    out += "passes of each case alternate with streaming sums of as many bytes (at least 7 pairs "
           "at one row; each\nthe faster of one and two streams a thread): \"read\" is the best "
           "sum, \"of read\" the median over\nthe pairs of case GB/s / sum GB/s (the memory "
           "rate drifts), \"of best\" GB/s over the highest\nrate above\n\n";
    std::snprintf(line, sizeof line, "%-11s %-18s %-15s %9s %6s %11s %8s %8s %7s %7s %9s\n",
                  "format", "path", "rows x out x in", "MiB/mat", "mats", "us/call", "GB/s",
                  "read", "of read", "of best", "GFLOP/s");
    out += line;
    for (const auto &r : rows) {
        const std::string shape = std::to_string(r.rows) + "x" + std::to_string(r.out) + "x"
            + std::to_string(r.in);
        std::snprintf(line, sizeof line,
                      "%-11s %-18s %-15s %9.3f %6lld %11.1f %8.2f %8.2f %7.3f %7.3f %9.1f\n",
                      r.format.c_str(), r.path.c_str(), shape.c_str(), r.weightBytes / 1048576.0,
                      static_cast<long long>(r.matrices), r.secondsPerCall * 1e6, r.weightGBs,
                      r.readGBs, r.fractionOfRead, r.fractionOfBest, r.gflops);
        out += line;
    }
    // Speed-up of each quantized format over the fastest float32 path at the same shape and rows.
    std::string speed;
    for (const auto &r : rows) {
        if (r.format == "fp32")
            continue;
        const KernelBenchRow *best = nullptr;
        for (const auto &f : rows)
            if (f.format == "fp32" && f.rows == r.rows && f.out == r.out && f.in == r.in
                && (!best || f.secondsPerCall < best->secondsPerCall))
                best = &f;
        if (!best)
            continue;
        std::snprintf(line, sizeof line, "  %-11s %-16s %lldx%lldx%lld: %.2fx (vs %s)\n",
                      r.format.c_str(), r.path.c_str(), static_cast<long long>(r.rows),
                      static_cast<long long>(r.out), static_cast<long long>(r.in),
                      best->secondsPerCall / r.secondsPerCall, best->path.c_str());
        speed += line;
    }
    if (!speed.empty())
        out += "\nspeed-up over the faster fp32 path:\n" + speed;
    return out;
}

nlohmann::ordered_json KernelBenchReport::toJson() const
{
    nlohmann::ordered_json j;
    j["read_bandwidth_gbs"] = readGBs;
    j["read_bandwidth_huge_pages_gbs"] = readHugeGBs;
    j["transparent_huge_pages"] = hugePageMode;
    j["huge_page_weights"] = hugePageWeights;
    j["best_read_gbs"] = bestReadGBs;
    j["best_read_path"] = bestReadPath;
    j["threads"] = threads;
    j["kernel_path"] = kernelPath;
    j["rows"] = nlohmann::ordered_json::array();
    for (const auto &r : rows)
        j["rows"].push_back({{"format", r.format},
                             {"path", r.path},
                             {"rows", r.rows},
                             {"out", r.out},
                             {"in", r.in},
                             {"weight_bytes", r.weightBytes},
                             {"matrices", r.matrices},
                             {"seconds_per_call", r.secondsPerCall},
                             {"weight_gbs", r.weightGBs},
                             {"read_gbs_after", r.readGBs},
                             {"fraction_of_read_bandwidth", r.fractionOfRead},
                             {"fraction_of_best_read", r.fractionOfBest},
                             {"gflops", r.gflops}});
    return j;
}

} // namespace qb::bench
