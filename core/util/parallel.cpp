#include "util/parallel.h"

#include <ATen/Parallel.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace qb {

namespace {

thread_local bool t_insidePool = false;
std::atomic<int> g_longSpinHolders{0};

inline void cpuRelax()
{
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#endif
}

// One job at a time, published by bumping m_generation. Every worker acknowledges every job
// (m_pending counts them down), so none can still be reading a job's fields when the next is
// written.
class Pool
{
public:
    void run(int64_t begin, int64_t end, int pieces,
             const std::function<void(int64_t, int64_t)> &fn)
    {
        std::unique_lock<std::mutex> busy(m_busy, std::try_to_lock);
        if (!busy.owns_lock())
            return fn(begin, end);
        const int workers = std::max(0, at::get_num_threads() - 1);
        if (workers != static_cast<int>(m_threads.size()))
            restart(workers);
        pieces = std::min(pieces, kPiecesPerThread * (workers + 1));
        if (pieces <= 1)
            return fn(begin, end);
        m_fn = &fn;
        m_begin = begin, m_end = end, m_pieces = pieces;
        m_next.store(workers + 1, std::memory_order_relaxed);
        m_error = nullptr;
        m_pending.store(workers, std::memory_order_relaxed);
        m_generation.fetch_add(1, std::memory_order_seq_cst);
        if (m_sleeping.load(std::memory_order_seq_cst) > 0) {
            std::lock_guard<std::mutex> lock(m_sleepLock);
            m_wake.notify_all();
        }
        runPiece(0);
        claimPieces();
        for (int spins = 0; m_pending.load(std::memory_order_acquire) != 0; ++spins) {
            cpuRelax();
            if (spins > 4096)
                std::this_thread::yield(); // a worker was descheduled
        }
        if (m_error)
            std::rethrow_exception(m_error);
    }

private:
    // Pieces past the threads' own, taken one at a time by whichever thread is free: a thread
    // that starts late (a worker woken from its sleep, or one whose core the host lent
    // elsewhere for a moment) no longer holds the caller up by a whole share of the range.
    void claimPieces()
    {
        for (int p; (p = m_next.fetch_add(1, std::memory_order_relaxed)) < m_pieces;)
            runPiece(p);
    }

    void runPiece(int piece)
    {
        const int64_t n = m_end - m_begin;
        const int64_t b = m_begin + n * piece / m_pieces, e = m_begin + n * (piece + 1) / m_pieces;
        t_insidePool = true;
        try {
            (*m_fn)(b, e);
        } catch (...) {
            std::lock_guard<std::mutex> lock(m_errorLock);
            if (!m_error)
                m_error = std::current_exception();
        }
        t_insidePool = false;
    }

    // `seen`: the generation when the worker was made (it may start after the next job is out).
    void loop(int id, uint64_t seen)
    {
        for (;;) {
            const int spin = poolSpinsLong() ? kLongSpinMicroseconds : kSpinMicroseconds;
            const auto spinUntil
                = std::chrono::steady_clock::now() + std::chrono::microseconds(spin);
            for (int spins = 1; m_generation.load(std::memory_order_acquire) == seen; ++spins) {
                cpuRelax();
                if (spins % 64 == 0 && std::chrono::steady_clock::now() > spinUntil) {
                    std::unique_lock<std::mutex> lock(m_sleepLock);
                    m_sleeping.fetch_add(1, std::memory_order_seq_cst);
                    m_wake.wait(lock, [&] {
                        return m_generation.load(std::memory_order_seq_cst) != seen;
                    });
                    m_sleeping.fetch_sub(1, std::memory_order_relaxed);
                    break;
                }
            }
            seen = m_generation.load(std::memory_order_acquire);
            if (m_stop)
                return;
            if (id < m_pieces) {
                runPiece(id);
                claimPieces();
            }
            m_pending.fetch_sub(1, std::memory_order_release);
        }
    }

    // Called with m_busy held: stops the workers there are and starts `workers` new ones.
    void restart(int workers)
    {
        if (!m_threads.empty()) {
            m_stop = true;
            m_generation.fetch_add(1, std::memory_order_seq_cst);
            {
                std::lock_guard<std::mutex> lock(m_sleepLock);
                m_wake.notify_all();
            }
            for (auto &t : m_threads)
                t.join();
            m_threads.clear();
            m_stop = false;
        }
        const uint64_t now = m_generation.load();
        for (int i = 1; i <= workers; ++i)
            m_threads.emplace_back([this, i, now] { loop(i, now); });
    }

    std::mutex m_busy;
    std::vector<std::thread> m_threads;
    std::mutex m_sleepLock;
    std::condition_variable m_wake;
    std::atomic<uint64_t> m_generation{0};
    std::atomic<int> m_sleeping{0};
    std::atomic<int> m_pending{0};
    bool m_stop = false;
    const std::function<void(int64_t, int64_t)> *m_fn = nullptr;
    int64_t m_begin = 0, m_end = 0;
    int m_pieces = 0;
    std::atomic<int> m_next{0}; // the next piece nobody owns or has claimed
    std::mutex m_errorLock;
    std::exception_ptr m_error;
};

} // namespace

void parallelFor(int64_t begin, int64_t end, int64_t grain,
                 const std::function<void(int64_t, int64_t)> &fn)
{
    if (end <= begin)
        return;
    const int64_t pieces = (end - begin) / std::max<int64_t>(1, grain);
    if (pieces <= 1 || t_insidePool) {
        fn(begin, end);
        return;
    }
    // Never destroyed: its sleeping workers end with the process.
    static Pool *pool = new Pool;
    pool->run(begin, end, static_cast<int>(std::min<int64_t>(pieces, 1 << 20)), fn);
}

ScopedPoolSpin::ScopedPoolSpin() { g_longSpinHolders.fetch_add(1, std::memory_order_relaxed); }

ScopedPoolSpin::~ScopedPoolSpin() { g_longSpinHolders.fetch_sub(1, std::memory_order_relaxed); }

bool poolSpinsLong() { return g_longSpinHolders.load(std::memory_order_relaxed) > 0; }

} // namespace qb
