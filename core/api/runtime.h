// Process-wide start-up for programs using the core: torch's intra-op thread count set to the core
// count (it starts at 1), and a check of which BLAS library serves matrix products. Call once from
// main() before any other core work.
#pragma once
#include <string>

namespace qb {

struct RuntimeInfo
{
    int threads = 1;
    std::string blasLibrary; // path of the loaded BLAS shared object, e.g. .../libopenblas.so.0
    bool openblas = false;
    // Threads one at::parallel_for over `threads` items ran on (threads unless the core was built
    // without OpenMP, in which case torch's parallel loops in our own code run serially).
    int parallelThreads = 1;
};

// Call first in main(), before any thread exists. libgomp (torch's intra-op threads) reads its wait
// policy once, when it loads; its default spins idle threads, which then compete with OpenBLAS's
// own pthreads for the same cores: a training step of the built-in reasoner on 2 cores took 1.98 s
// spinning and 1.37 s passive (bench_train_step). Unless the user chose a policy
// (OMP_WAIT_POLICY or GOMP_SPINCOUNT set), this sets OMP_WAIT_POLICY=PASSIVE and re-executes the
// program with the same arguments; if that fails the program simply goes on.
void preferPassiveOpenMp(char **argv);

// threads <= 0 means the number of online cores (or $QB_THREADS when set).
RuntimeInfo initRuntime(int threads = 0);

} // namespace qb
