// The thread pool our own kernels run on (GEMM, attention, the fused layer ops and quantized
// linears): parallelFor splits a range over the calling thread and at::get_num_threads() - 1
// workers that, after a piece of work, spin for a short while (kSpinMicroseconds) before they
// sleep.
//
// Why not torch's pool (at::parallel_for, OpenMP): the programs run OpenMP passive (see
// api/runtime.h: spinning OpenMP threads fight OpenBLAS's own threads in training), so every
// at::parallel_for wakes a sleeping thread through the kernel, 30-40 us on the 2-core VM, and a
// batch-64 decoding step of the built-in reasoner makes ~40 such calls (seven products, the
// attention and the norms of each of four layers). With every OpenMP thread spinning instead
// (OMP_WAIT_POLICY=ACTIVE) the same generation ran 1.2-1.3x faster (docs/generation.md), but
// training then slows down, and an idle program burns a core. This pool spins only right after its
// own work, so back-to-back kernels of one step find the worker awake and an idle program sleeps.
//
// Calls from two threads at once, or from inside a parallelFor, run on the calling thread alone.
// An exception thrown by fn is rethrown to the caller after every piece has finished.
#pragma once

#include <cstdint>
#include <functional>

namespace qb {

constexpr int kSpinMicroseconds = 100;
// While a ScopedPoolSpin lives (anywhere in the program), workers spin this long instead.
constexpr int kLongSpinMicroseconds = 1000;
// The range is cut into up to this many pieces a thread: each thread runs its own piece, then
// takes the pieces left one at a time, so the threads finish together even when one starts late.
constexpr int kPiecesPerThread = 4;

// fn(b, e) over contiguous pieces of [begin, end) of at least `grain` items each (one piece when
// the range is shorter than 2 · grain). The pieces' bounds depend only on the range, the grain
// and the thread count, never on which thread runs which piece.
void parallelFor(int64_t begin, int64_t end, int64_t grain,
                 const std::function<void(int64_t, int64_t)> &fn);

// Workers spin kLongSpinMicroseconds after each piece while at least one of these exists. For
// loops whose parallel kernels come more than kSpinMicroseconds apart and that run little else
// meanwhile: decoding one row at a time spends ~100-400 us a token, mostly in serial small
// products, so with the short spin the worker sleeps between the few parallel ones and each
// wakes it through the kernel. Not for training, where torch's own threads need the core
// between our kernels (a built-in training step was 5-7% slower with the long spin throughout).
class ScopedPoolSpin
{
public:
    ScopedPoolSpin();
    ~ScopedPoolSpin();
    ScopedPoolSpin(const ScopedPoolSpin &) = delete;
    ScopedPoolSpin &operator=(const ScopedPoolSpin &) = delete;
};
// Whether a ScopedPoolSpin exists now (workers between pieces are then almost surely awake, so
// handing a thread less work pays).
bool poolSpinsLong();

} // namespace qb
