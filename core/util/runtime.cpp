#include "api/runtime.h"

#include <cstdlib>
#include <fstream>
#include <malloc.h>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include <unistd.h>

namespace qb {

namespace {

// The BLAS that libtorch's generic BLAS path resolved to, read from our own memory map after a
// matrix product has forced the library to load.
std::string loadedBlas()
{
    std::ifstream maps("/proc/self/maps");
    std::string line, fallback;
    while (std::getline(maps, line)) {
        const auto slash = line.find('/');
        if (slash == std::string::npos)
            continue;
        const std::string path = line.substr(slash);
        if (path.find("openblas") != std::string::npos)
            return path;
        if (fallback.empty()
            && (path.find("libblas") != std::string::npos || path.find("libmkl") != std::string::npos))
            fallback = path;
    }
    return fallback;
}

} // namespace

void preferPassiveOpenMp(char **argv)
{
    if (std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT"))
        return;
    ::setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    ::execv("/proc/self/exe", argv);
}

RuntimeInfo initRuntime(int threads)
{
    if (threads <= 0) {
        if (const char *env = std::getenv("QB_THREADS"); env && std::atoi(env) > 0)
            threads = std::atoi(env);
        else
            threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    }
    // libtorch allocates with posix_memalign; glibc serves blocks over its mmap threshold from
    // fresh mappings that the kernel zero-fills page by page and unmaps again on free. Generation's
    // per-step temporaries (scores, logits, activations, 0.1-1 MiB) then spent ~7% of their time
    // in page faults (perf on bench_generate). Keep blocks below 64 MiB in the heap.
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    at::set_num_threads(threads);
    // Inter-op threads can be set only once per process, before any parallel work.
    static std::once_flag interopOnce;
    std::call_once(interopOnce, [] { at::set_num_interop_threads(1); });
    // A small fp32 product goes through BLAS and loads it.
    auto a = at::ones({64, 64});
    (void)at::mm(a, a);
    RuntimeInfo info;
    info.threads = at::get_num_threads();
    info.blasLibrary = loadedBlas();
    info.openblas = info.blasLibrary.find("openblas") != std::string::npos;
    std::mutex lock;
    std::set<std::thread::id> seen;
    at::parallel_for(0, info.threads, 1, [&](int64_t, int64_t) {
        std::lock_guard<std::mutex> hold(lock);
        seen.insert(std::this_thread::get_id());
    });
    info.parallelThreads = static_cast<int>(seen.size());
    return info;
}

} // namespace qb
