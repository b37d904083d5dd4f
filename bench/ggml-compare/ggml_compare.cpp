// Decode GEMV (1 x 4096 x 4096) of QuantBench's int8-activation kernels against ggml's (the CPU
// kernels llama.cpp runs), in one process, in the same minutes, under the same read probe as
// `quantbench-cli bench kernels`. Built and run by run.sh against a local ggml checkout; not part
// of the project's build (nothing is downloaded, ggml is never vendored).
//
// Pairs (ours / ggml's, each with its activations rounded to int8 per block of 32):
//   int8 per channel        / q8_0 (int8 per block of 32 with an fp16 scale)
//   int4 g128 asymmetric    / q4_0 (4 bits per block of 32, one fp16 scale), CPU_REPACK 8x8
//   nf4 b64 double-quant    / iq4_nl (non-linear 4-bit table per block of 32), CPU_REPACK 8x8
// Each case is a set of matrices of --set-mib MiB in all (beyond the caches), placed in memory
// advised for 2 MiB pages as QuantBench places packed weights. A round times one pass of every
// case, each pass followed by a streaming float32 sum over as many bytes (the faster of one and
// two streams a thread, as bench kernels reads, kernels/read_bandwidth.h): "of read" is the
// median over rounds of pass GB/s / sum GB/s, "vs ggml" the median over rounds of ggml's time /
// ours (the rounds interleave the cases, so both sides see the same memory phases). Threads:
// both sides split the matrix rows over the same OpenMP threads (ours in four pieces a thread,
// as QuantBench's pool cuts a call; ggml through its own graph compute), and ggml's x
// quantization counts in its time as ours does.
#include "kernels/double_quant.h"
#include "kernels/fused_linear_q8.h"
#include "kernels/nf4.h"
#include "kernels/read_bandwidth.h"

#include "ggml-alloc.h"
#include "ggml-backend.h"
#include "ggml-cpu.h"
#include "ggml.h"

#include <omp.h>
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

using namespace qb::kernels;
using Clock = std::chrono::steady_clock;

namespace {

double seconds(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

constexpr std::size_t kHugePage = std::size_t(2) << 20;

// Zeroed memory on a 2 MiB boundary, advised for transparent huge pages before the first touch.
struct HugeBuffer
{
    explicit HugeBuffer(std::size_t bytes) : size((bytes + kHugePage - 1) / kHugePage * kHugePage)
    {
        data = static_cast<std::uint8_t *>(std::aligned_alloc(kHugePage, size));
        if (!data) {
            std::fprintf(stderr, "out of memory allocating %zu bytes\n", size);
            std::exit(1);
        }
        madvise(data, size, MADV_HUGEPAGE);
        std::memset(data, 0, size);
    }
    ~HugeBuffer() { std::free(data); }
    HugeBuffer(const HugeBuffer &) = delete;
    HugeBuffer &operator=(const HugeBuffer &) = delete;
    std::uint8_t *data = nullptr;
    std::size_t size = 0;
};

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

struct Case
{
    std::string name;
    double bytesPerMatrix = 0;
    int matrices = 0;
    std::function<void()> pass; // one call per matrix
    std::vector<double> seconds, ratios;
};

constexpr std::int64_t kRows = 4096, kCols = 4096;

// ---------------------------------------------------------------- ours

struct OurSet
{
    std::vector<std::unique_ptr<HugeBuffer>> buffers;
    std::vector<FusedWeight> weights;
    std::vector<float> scales, absmaxScales;
    float absmaxOffset = 0;
    double bytes = 0;
};

std::vector<std::uint8_t> randomBytes(std::size_t n, std::mt19937 &rng, int modulo = 256)
{
    std::vector<std::uint8_t> v(n);
    for (auto &b : v)
        b = std::uint8_t(rng() % unsigned(modulo));
    return v;
}

std::vector<float> randomScales(std::size_t n, std::mt19937 &rng)
{
    std::vector<float> v(n);
    for (auto &s : v)
        s = 0.01f + float(rng() % 100) * 1e-4f;
    return v;
}

// Enough matrices of one format for setBytes, as QuantBench holds them after loading (rows
// layouts, kernels/fused_linear.h). Every matrix of a set holds the same random values: the
// speed does not depend on them, and making each one is what would take the time.
OurSet ourSet(const std::string &format, std::int64_t setBytes, std::mt19937 &rng)
{
    OurSet s;
    const std::int64_t n = kRows * kCols;
    if (format == "int8") {
        const auto codes = randomBytes(std::size_t(n), rng);
        s.scales = randomScales(kRows, rng);
        s.bytes = double(n + kRows * 4);
        for (std::int64_t i = 0; i < std::max<std::int64_t>(1, setBytes / n); ++i) {
            auto buf = std::make_unique<HugeBuffer>(std::size_t(n));
            std::memcpy(buf->data, codes.data(), codes.size());
            s.weights.push_back(fused_weight_int8_row(reinterpret_cast<const std::int8_t *>(buf->data),
                                                      s.scales.data(), kRows, kCols, nullptr));
            s.buffers.push_back(std::move(buf));
        }
        return s;
    }
    std::vector<std::uint8_t> packed = randomBytes(std::size_t(n / 2), rng);
    std::int64_t rowBytes = 0;
    std::function<void(std::uint8_t *)> pack;
    std::function<FusedWeight(const std::uint8_t *)> weight;
    std::vector<std::uint8_t> zeros, absmaxCodes;
    std::vector<float> scales;
    if (format == "int4-g128") { // asymmetric, a uint8 zero point per group: the int method's default
        const int group = 128;
        const IntGroupRows layout = int_group_rows(4, kCols / group, kCols, true);
        zeros = randomBytes(std::size_t(n / group), rng, 16);
        scales = randomScales(zeros.size(), rng);
        rowBytes = layout.row_bytes;
        pack = [&, layout](std::uint8_t *out) {
            pack_int_group_rows(layout, packed.data(), scales.data(), zeros.data(), 4, kRows, kCols, out);
        };
        weight = [layout](const std::uint8_t *buf) {
            return fused_weight_int_group_rows(buf, layout, nullptr, 4, group, kRows, kCols, nullptr);
        };
    } else { // nf4-dq-b64: NF4, blocks of 64, double-quantized absmax (QLoRA's default)
        const int block = 64;
        const Blockwise4Rows layout = blockwise4_rows(block, kCols, true);
        absmaxCodes = randomBytes(std::size_t(n / block), rng);
        s.absmaxScales.resize((absmaxCodes.size() + 255) / 256);
        for (auto &v : s.absmaxScales)
            v = 1e-3f + float(rng() % 100) * 5e-4f;
        s.absmaxOffset = 0.05f;
        rowBytes = layout.row_bytes;
        pack = [&, layout](std::uint8_t *out) {
            pack_blockwise4_rows(layout, packed.data(), nullptr, absmaxCodes.data(), kRows, kCols, out);
        };
        weight = [&s, layout](const std::uint8_t *buf) {
            return fused_weight_blockwise4_rows(Codebook4::Nf4, buf, layout, s.absmaxScales.data(),
                                                s.absmaxOffset, block, kRows, kCols, nullptr);
        };
    }
    s.bytes = double(kRows * rowBytes);
    for (std::int64_t i = 0; i < std::max<std::int64_t>(1, setBytes / (kRows * rowBytes)); ++i) {
        auto buf = std::make_unique<HugeBuffer>(std::size_t(kRows * rowBytes));
        pack(buf->data);
        s.weights.push_back(weight(buf->data));
        s.buffers.push_back(std::move(buf));
    }
    return s;
}

// ---------------------------------------------------------------- ggml

struct GgmlSet
{
    ggml_backend_t backend = nullptr;
    ggml_context *weights = nullptr, *graphCtx = nullptr;
    ggml_backend_buffer_t buffer = nullptr;
    ggml_gallocr_t alloc = nullptr;
    ggml_cgraph *graph = nullptr;
    std::string bufferType;
    double bytes = 0;
    int matrices = 0;
};

GgmlSet ggmlSet(ggml_type type, std::int64_t setBytes, int threads, std::mt19937 &rng)
{
    GgmlSet s;
    s.backend = ggml_backend_cpu_init();
    ggml_backend_cpu_set_n_threads(s.backend, threads);
    // The repacking buffer llama.cpp loads CPU weights into (q4_0 and iq4_nl interleaved 8x8
    // for AVX2/AVX-512). ggml repacks q8_0 only for ARM and RISC-V (its repack buffer has no
    // layout for it on x86 and crashes on one), so on x86 llama.cpp keeps q8_0 in the plain
    // CPU buffer, as here.
    ggml_backend_buffer_type_t buft = ggml_backend_cpu_buffer_type();
    ggml_backend_dev_t dev = ggml_backend_get_device(s.backend);
    auto extra = reinterpret_cast<ggml_backend_dev_get_extra_bufts_t>(ggml_backend_reg_get_proc_address(
        ggml_backend_dev_backend_reg(dev), "ggml_backend_dev_get_extra_bufts"));
    if (extra && type != GGML_TYPE_Q8_0)
        for (auto *p = extra(dev); p && *p; ++p)
            if (std::string(ggml_backend_buft_name(*p)) == "CPU_REPACK")
                buft = *p;
    s.bufferType = ggml_backend_buft_name(buft);
    const std::size_t matBytes = ggml_row_size(type, kCols) * kRows;
    s.bytes = double(matBytes);
    s.matrices = int(std::max<std::int64_t>(1, setBytes / std::int64_t(matBytes)));
    ggml_init_params wp{ggml_tensor_overhead() * (s.matrices + 4), nullptr, true};
    s.weights = ggml_init(wp);
    std::vector<ggml_tensor *> ws;
    for (int i = 0; i < s.matrices; ++i)
        ws.push_back(ggml_new_tensor_2d(s.weights, type, kCols, kRows));
    s.buffer = ggml_backend_alloc_ctx_tensors_from_buft(s.weights, buft);
    // The same placement as ours: 2 MiB pages advised before the weights are written.
    const auto base = reinterpret_cast<std::uintptr_t>(ggml_backend_buffer_get_base(s.buffer));
    const std::uintptr_t first = (base + kHugePage - 1) & ~std::uintptr_t(kHugePage - 1);
    const std::size_t size = ggml_backend_buffer_get_size(s.buffer);
    if (first < base + size)
        madvise(reinterpret_cast<void *>(first), base + size - first, MADV_HUGEPAGE);
    std::normal_distribution<float> nd(0.0f, 0.02f);
    std::vector<float> w(kRows * kCols);
    std::vector<std::uint8_t> q(matBytes);
    for (auto &v : w)
        v = nd(rng);
    ggml_quantize_chunk(type, w.data(), q.data(), 0, kRows, kCols, nullptr);
    for (auto *t : ws) // one matrix's values in each: the speed does not depend on them
        ggml_backend_tensor_set(t, q.data(), 0, matBytes);
    const std::size_t nodes = 4 * std::size_t(s.matrices) + 16;
    ggml_init_params cp{ggml_tensor_overhead() * nodes + ggml_graph_overhead_custom(nodes, false),
                        nullptr, true};
    s.graphCtx = ggml_init(cp);
    ggml_tensor *x = ggml_new_tensor_2d(s.graphCtx, GGML_TYPE_F32, kCols, 1);
    ggml_set_input(x);
    s.graph = ggml_new_graph_custom(s.graphCtx, nodes, false);
    for (auto *t : ws) {
        ggml_tensor *y = ggml_mul_mat(s.graphCtx, t, x);
        ggml_set_output(y);
        ggml_build_forward_expand(s.graph, y);
    }
    s.alloc = ggml_gallocr_new(ggml_backend_cpu_buffer_type());
    ggml_gallocr_alloc_graph(s.alloc, s.graph);
    std::normal_distribution<float> xd(0.0f, 1.0f);
    std::vector<float> xv(kCols);
    for (auto &v : xv)
        v = xd(rng);
    ggml_backend_tensor_set(x, xv.data(), 0, kCols * sizeof(float));
    return s;
}

// ggml's warnings and errors to stderr; its debug lines (one per repacked matrix) dropped.
void ggmlLog(ggml_log_level level, const char *text, void *)
{
    if (level == GGML_LOG_LEVEL_WARN || level == GGML_LOG_LEVEL_ERROR)
        std::fputs(text, stderr);
}

} // namespace

int main(int argc, char **argv)
{
    int rounds = 9, threads = omp_get_max_threads();
    std::int64_t setMiB = 256;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--rounds" && i + 1 < argc)
            rounds = std::atoi(argv[++i]);
        else if (a == "--set-mib" && i + 1 < argc)
            setMiB = std::atoll(argv[++i]);
        else if (a == "--threads" && i + 1 < argc)
            threads = std::atoi(argv[++i]);
        else {
            std::printf("usage: ggml_compare [--rounds N] [--set-mib N] [--threads N]\n"
                        "Decode GEMV 1x4096x4096: QuantBench's int8-activation kernels against\n"
                        "ggml's q8_0 / q4_0 / iq4_nl, alternating with streaming sums (see the\n"
                        "source's head comment). Defaults: 9 rounds, 256 MiB a case, all cores.\n");
            return a == "--help" || a == "-h" ? 0 : 2;
        }
    }
    // The six cases' sets evict each other within a round, so a small set is no in-cache
    // measurement either: it would only time each call after an eviction.
    if (rounds < 1 || setMiB < 64 || threads < 1) {
        std::fprintf(stderr, "ggml_compare: --rounds and --threads must be at least 1 and --set-mib "
                             "at least 64, beyond the caches (got %d, %d, %lld)\n",
                     rounds, threads, static_cast<long long>(setMiB));
        return 2;
    }
    if (!q8_vnni_supported()) {
        std::fprintf(stderr, "this CPU lacks AVX-512 VNNI: QuantBench's int8-activation kernels "
                             "would run their scalar reference, so there is nothing to compare\n");
        return 1;
    }
    omp_set_num_threads(threads);
    ggml_log_set(ggmlLog, nullptr);
    const std::int64_t setBytes = setMiB << 20;
    std::mt19937 rng(1);

    std::vector<Case> cases;
    std::vector<OurSet> ours;
    std::vector<GgmlSet> theirs;
    const char *ourFormats[] = {"int8", "int4-g128", "nf4-dq-b64"};
    const ggml_type ggmlTypes[] = {GGML_TYPE_Q8_0, GGML_TYPE_Q4_0, GGML_TYPE_IQ4_NL};
    ours.reserve(3);
    theirs.reserve(3);
    std::vector<float> x(kCols), y(kRows);
    std::normal_distribution<float> xd(0.0f, 1.0f);
    for (auto &v : x)
        v = xd(rng);
    for (int f = 0; f < 3; ++f) {
        ours.push_back(ourSet(ourFormats[f], setBytes, rng));
        OurSet &o = ours.back();
        Case c;
        c.name = std::string("quantbench ") + ourFormats[f] + " q8";
        c.bytesPerMatrix = o.bytes;
        c.matrices = int(o.weights.size());
        c.pass = [&o, &x, &y] {
            for (const FusedWeight &w : o.weights) {
                const Q8Input in = q8_prepare_input(w, x.data(), 1); // per call, as ggml's
                // As QuantBench's pool (core/util/parallel.h) cuts a call: four pieces a
                // thread, each thread taking the next piece left when it is done.
                const int pieces = 4 * omp_get_max_threads();
#pragma omp parallel for schedule(dynamic, 1)
                for (int p = 0; p < pieces; ++p)
                    fused_linear_q8(w, in, y.data(), kRows * p / pieces, kRows * (p + 1) / pieces);
            }
        };
        cases.push_back(std::move(c));
        theirs.push_back(ggmlSet(ggmlTypes[f], setBytes, threads, rng));
        GgmlSet &g = theirs.back();
        Case d;
        d.name = std::string("ggml ") + ggml_type_name(ggmlTypes[f]) + " (" + g.bufferType + ")";
        d.bytesPerMatrix = g.bytes;
        d.matrices = g.matrices;
        d.pass = [&g] { ggml_backend_graph_compute(g.backend, g.graph); };
        cases.push_back(std::move(d));
    }

    HugeBuffer probe{static_cast<std::size_t>(setBytes)};
    auto *pf = reinterpret_cast<float *>(probe.data);
    const std::int64_t probeFloats = setBytes / 4;
    std::fill(pf, pf + probeFloats, 1.0f);
    volatile float sink = 0;
    // GB/s of one streaming sum over the probe, each thread reading its part as `streams`.
    auto readPass = [&](int streams) {
        std::vector<float> part(threads, 0.0f);
        const auto t0 = Clock::now();
#pragma omp parallel
        {
            const int t = omp_get_thread_num(), n = omp_get_num_threads();
            part[t] = stream_sum(pf + probeFloats * t / n, probeFloats * (t + 1) / n - probeFloats * t / n,
                                 active_kernel_path(), streams);
        }
        const double rate = double(setBytes) / seconds(t0) / 1e9;
        float s = 0;
        for (float v : part)
            s += v;
        sink = s;
        return rate;
    };

    for (auto &c : cases) // warm up as bench kernels does: 0.25 s of passes
        for (const auto t0 = Clock::now(); seconds(t0) < 0.25;)
            c.pass();
    for (int r = 0; r < rounds; ++r)
        for (auto &c : cases) {
            const auto t0 = Clock::now();
            c.pass();
            const double t = seconds(t0);
            const double read = std::max(readPass(1), readPass(2));
            c.seconds.push_back(t);
            c.ratios.push_back(c.bytesPerMatrix * c.matrices / t / 1e9 / read);
        }

    std::printf("decode GEMV 1x%lldx%lld, %d threads, %d rounds, %lld MiB a case; kernel path %s\n",
                static_cast<long long>(kRows), static_cast<long long>(kCols), threads, rounds,
                static_cast<long long>(setMiB), kernel_path_name(active_kernel_path()));
    std::printf("%-36s %9s %5s %11s %9s %8s %8s %8s\n", "case", "MiB/mat", "mats", "best us/call",
                "best GB/s", "of read", "min", "max");
    for (const auto &c : cases) {
        const double best = *std::min_element(c.seconds.begin(), c.seconds.end()) / c.matrices;
        std::printf("%-36s %9.3f %5d %11.1f %9.2f %8.3f %8.3f %8.3f\n", c.name.c_str(),
                    c.bytesPerMatrix / 1048576.0, c.matrices, best * 1e6, c.bytesPerMatrix / best / 1e9,
                    median(c.ratios), *std::min_element(c.ratios.begin(), c.ratios.end()),
                    *std::max_element(c.ratios.begin(), c.ratios.end()));
    }
    std::printf("\nper call, ggml's time / ours (median over rounds; > 1: ours faster)\n");
    for (std::size_t f = 0; f + 1 < cases.size(); f += 2) {
        std::vector<double> r;
        for (int k = 0; k < rounds; ++k)
            r.push_back((cases[f + 1].seconds[k] / cases[f + 1].matrices)
                        / (cases[f].seconds[k] / cases[f].matrices));
        std::printf("  %-28s vs %-30s %.2fx (min %.2f, max %.2f)\n", cases[f].name.c_str(),
                    cases[f + 1].name.c_str(), median(r), *std::min_element(r.begin(), r.end()),
                    *std::max_element(r.begin(), r.end()));
    }
    return 0;
}
