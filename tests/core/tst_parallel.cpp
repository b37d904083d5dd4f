// util/parallel.h: every item of the range runs exactly once, in pieces of at least the grain, on
// more than one thread when the range allows; nested and concurrent calls run inline and still
// cover their ranges; an exception reaches the caller; thousands of calls in a row, some after
// the workers have gone to sleep, all finish (a lost wake-up would hang here); long-spin scopes
// nest; a changed thread count resizes the pool.
#include "util/parallel.h"

#include "parallel_probe.h"

#include <QtTest>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

using qb::parallelFor;

namespace {

// How many times each item of [0, n) ran, and the smallest piece seen.
struct Coverage
{
    std::vector<std::atomic<int>> hits;
    std::atomic<int64_t> smallest{INT64_MAX};
    std::mutex lock;
    std::set<std::thread::id> threads;

    explicit Coverage(int64_t n) : hits(size_t(n)) {}

    void operator()(int64_t b, int64_t e)
    {
        for (int64_t i = b; i < e; ++i)
            hits[size_t(i)].fetch_add(1);
        int64_t s = smallest.load();
        while (e - b < s && !smallest.compare_exchange_weak(s, e - b)) {
        }
        std::lock_guard<std::mutex> hold(lock);
        threads.insert(std::this_thread::get_id());
    }

    bool once() const
    {
        for (const auto &h : hits)
            if (h.load() != 1)
                return false;
        return true;
    }
};

} // namespace

class TestParallel : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { parallelprobe::setThreads(4); }

    void coversTheRangeOnce()
    {
        for (int64_t n : {1, 2, 7, 64, 1000}) {
            for (int64_t grain : {1, 3, 64, 5000}) {
                Coverage c(n);
                parallelFor(0, n, grain, [&](int64_t b, int64_t e) { c(b, e); });
                QVERIFY(c.once());
                // Pieces are at least the grain unless the whole range is shorter.
                QVERIFY(c.smallest.load() >= std::min(n, grain));
                if (n >= 2 * grain)
                    QVERIFY(c.threads.size() > 1);
                else
                    QCOMPARE(int(c.threads.size()), 1);
            }
        }
        // An offset range, and an empty one (fn never called).
        Coverage c(50);
        parallelFor(20, 50, 1, [&](int64_t b, int64_t e) {
            QVERIFY(b >= 20);
            c(b, e);
        });
        for (int i = 0; i < 50; ++i)
            QCOMPARE(c.hits[size_t(i)].load(), i < 20 ? 0 : 1);
        bool called = false;
        parallelFor(5, 5, 1, [&](int64_t, int64_t) { called = true; });
        QVERIFY(!called);
    }

    void nestedCallsRunInline()
    {
        Coverage outer(8);
        std::atomic<int> innerOk{0}, pieces{0};
        parallelFor(0, 8, 1, [&](int64_t b, int64_t e) {
            outer(b, e);
            ++pieces;
            Coverage inner(100);
            const auto self = std::this_thread::get_id();
            parallelFor(0, 100, 1, [&](int64_t ib, int64_t ie) { inner(ib, ie); });
            innerOk += inner.once() && inner.threads.size() == 1 && *inner.threads.begin() == self;
        });
        QVERIFY(outer.once());
        QCOMPARE(innerOk.load(), pieces.load());
        QVERIFY(outer.threads.size() > 1);
    }

    // Each thread runs its own piece, then takes the pieces left: while the caller's piece is
    // slow, the workers take every other piece. The pieces' bounds are the same from call to
    // call, whoever runs them.
    void freeThreadsTakeThePiecesLeft()
    {
        std::set<std::pair<int64_t, int64_t>> first;
        for (int round = 0; round < 2; ++round) {
            std::mutex lock;
            std::set<std::pair<int64_t, int64_t>> bounds;
            std::atomic<int> callerPieces{0}, all{0};
            const auto caller = std::this_thread::get_id();
            parallelFor(0, 64, 4, [&](int64_t b, int64_t e) {
                ++all;
                if (std::this_thread::get_id() == caller) {
                    ++callerPieces;
                    std::this_thread::sleep_for(std::chrono::milliseconds(200));
                }
                std::lock_guard<std::mutex> hold(lock);
                bounds.insert({b, e});
            });
            // 16 pieces of at least 4 items could be; 4 threads cut at most 4 · 4 = 16.
            QCOMPARE(all.load(), 16);
            QCOMPARE(callerPieces.load(), 1);
            if (round == 0)
                first = bounds;
            else
                QVERIFY(bounds == first);
        }
    }

    void concurrentCallersBothFinish()
    {
        std::atomic<int> good{0};
        auto caller = [&] {
            for (int r = 0; r < 300; ++r) {
                Coverage c(257);
                parallelFor(0, 257, 8, [&](int64_t b, int64_t e) { c(b, e); });
                good += c.once();
            }
        };
        std::thread a(caller), b(caller);
        a.join();
        b.join();
        QCOMPARE(good.load(), 600);
    }

    void exceptionReachesTheCaller()
    {
        bool caught = false;
        try {
            parallelFor(0, 100, 1, [&](int64_t b, int64_t) {
                if (b > 0)
                    throw std::runtime_error("piece failed");
            });
        } catch (const std::runtime_error &e) {
            caught = QString(e.what()) == "piece failed";
        }
        QVERIFY(caught);
        // The pool still works afterwards.
        Coverage c(100);
        parallelFor(0, 100, 1, [&](int64_t b, int64_t e) { c(b, e); });
        QVERIFY(c.once());
    }

    void manyCallsAwakeAndAsleep()
    {
        int64_t total = 0;
        for (int r = 0; r < 5000; ++r) {
            if (r % 500 == 0) // longer than the workers spin: they go to sleep
                std::this_thread::sleep_for(std::chrono::microseconds(5 * qb::kSpinMicroseconds));
            std::atomic<int64_t> sum{0};
            parallelFor(0, 64, 1, [&](int64_t b, int64_t e) {
                int64_t s = 0;
                for (int64_t i = b; i < e; ++i)
                    s += i;
                sum += s;
            });
            total += sum.load() == 64 * 63 / 2;
        }
        QCOMPARE(total, int64_t(5000));
    }

    // ScopedPoolSpin: counted, so scopes nest and poolSpinsLong() holds until the last ends;
    // calls inside one, also after pauses longer than the long spin (the workers then sleep
    // anyway), all finish and cover their ranges.
    void longSpinScopesNest()
    {
        QVERIFY(!qb::poolSpinsLong());
        {
            qb::ScopedPoolSpin outer;
            QVERIFY(qb::poolSpinsLong());
            {
                qb::ScopedPoolSpin inner;
                QVERIFY(qb::poolSpinsLong());
            }
            QVERIFY(qb::poolSpinsLong());
            for (int r = 0; r < 200; ++r) {
                if (r % 50 == 0)
                    std::this_thread::sleep_for(
                        std::chrono::microseconds(2 * qb::kLongSpinMicroseconds));
                Coverage c(64);
                parallelFor(0, 64, 1, [&](int64_t b, int64_t e) { c(b, e); });
                QVERIFY(c.once());
            }
        }
        QVERIFY(!qb::poolSpinsLong());
    }

    void threadCountChangesResizeThePool()
    {
        for (int threads : {2, 1, 3}) {
            parallelprobe::setThreads(threads);
            Coverage c(90);
            parallelFor(0, 90, 1, [&](int64_t b, int64_t e) { c(b, e); });
            QVERIFY(c.once());
            QCOMPARE(int(c.threads.size()), threads);
        }
        parallelprobe::setThreads(4);
    }
};

QTEST_GUILESS_MAIN(TestParallel)
#include "tst_parallel.moc"
