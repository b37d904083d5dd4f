// quantbench-cli bench kernels: the machine's read bandwidth, then the quantized linears' speed
// at decode (1 row), small-batch (16 rows) and prefill (512 rows) shapes against libtorch's
// float32 at::linear. Each case cycles through enough random matrices that the packed weights of
// one pass exceed a size far beyond the last-level cache (default 256 MiB), so every call reads
// its weights from DRAM. Std-only API for the CLI; runs on the calling thread with torch's
// intra-op pool (the thread count of initRuntime).
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace qb::bench {

struct KernelBenchOptions
{
    bool quick = false;            // fewer repeats and the 4096 shapes only at decode/prefill
    int64_t setBytes = 256 << 20;  // weight bytes cycled per pass (per format and shape)
    int64_t bandwidthBytes = int64_t(1) << 30; // buffer of the streaming-read measurement
    int repeats = 5;               // passes; the best is reported
};

struct KernelBenchRow
{
    std::string format; // "int8", "int4-g128", "nf4-dq-b64", "fp32"
    std::string path;   // "fused avx512", "q8 avx512-vnni" (int8 activations), "panel gemm"
                        // (float activations past the fused kernels' rows), "at::linear"
    int64_t rows = 0, out = 0, in = 0; // y[rows, out] = x[rows, in] Wᵀ
    int64_t weightBytes = 0;           // one matrix, packed (codes + scales + zeros/absmax)
    int64_t matrices = 0;              // cycled per pass
    double secondsPerCall = 0;         // best pass / matrices
    double weightGBs = 0;              // weightBytes / secondsPerCall, 1e9 bytes
    // Passes of the case alternate with streaming sums over a buffer of its weight set's size
    // (placed as the quantized weights are; at least 7 pairs at one row; each sum the faster of
    // one and two streams a thread): readGBs is the best sum, fractionOfRead the median over the
    // pairs of (pass rate / sum rate). This VM's memory rate drifts by tens of percent within a
    // minute, so a kernel is compared with the machine as it was around each pass.
    double readGBs = 0;
    double fractionOfRead = 0;
    double fractionOfBest = 0;         // weightGBs / KernelBenchReport::bestReadGBs
    double gflops = 0;                 // 2 rows out in / secondsPerCall
};

struct KernelBenchReport
{
    double readGBs = 0; // streaming read over 4 KiB pages (one or two streams), best of repeats
    // The same over a buffer placed as the quantized weights are (packedWeightStorage: 2 MiB
    // pages where the system grants them), and the system's transparent-huge-page mode.
    double readHugeGBs = 0;
    std::string hugePageMode;
    bool hugePageWeights = false; // whether the quantized weights were placed that way
    // The highest read rate measured: readGBs, readHugeGBs or, when faster, the weight rate of a
    // row (every
    // row's weight set is beyond the caches), with that row's description.
    double bestReadGBs = 0;
    std::string bestReadPath;
    int threads = 0;
    std::string kernelPath;
    std::vector<KernelBenchRow> rows;

    std::string table() const;
    nlohmann::ordered_json toJson() const;
};

// progress: one line per finished case (may be empty).
KernelBenchReport runKernelBench(const KernelBenchOptions &options,
                                 const std::function<void(const std::string &)> &progress = {});

} // namespace qb::bench
