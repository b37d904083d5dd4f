// Sliding-window perplexity (eval/perplexity.h) against a reference that runs one forward per
// scored token with the context the windowing rule gives it, and against the hand-known
// perplexity of a model that predicts every token with equal probability.
#include "perplexity_probe.h"

#include <QtTest>

#include <cmath>
#include <random>

namespace {

std::vector<int64_t> tokens(size_t n)
{
    std::mt19937 rng(7);
    std::uniform_int_distribution<int64_t> d(0, 39);
    std::vector<int64_t> ids(n);
    for (auto &v : ids)
        v = d(rng);
    return ids;
}

bool near(double a, double b) { return std::fabs(a - b) <= 1e-4 * std::max(1.0, std::fabs(b)); }

} // namespace

class TestPerplexity : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void oneWindowScoresEveryTokenFromTheStart()
    {
        const auto ids = tokens(20);
        const auto r = pplprobe::library(ids, 32, 32);
        QVERIFY2(r.error.empty(), r.error.c_str());
        QCOMPARE(r.windows, int64_t(1));
        QCOMPARE(r.predicted, int64_t(19));
        std::vector<int64_t> starts(ids.size(), 0);
        starts[0] = -1;
        QVERIFY2(near(r.nll, pplprobe::naiveNll(ids, starts)), qPrintable(QString::number(r.nll)));
        QVERIFY(near(r.perplexity, std::exp(r.nll / 19)));
    }

    void strideOneGivesEveryTokenItsLastWindowMinusOneTokens()
    {
        // Window 8, stride 1: token t >= 8 is scored by the window [t - 7, t + 1), from the 7
        // tokens before it; tokens 1..7 by the first window, from the start.
        const auto ids = tokens(30);
        const auto r = pplprobe::library(ids, 8, 1);
        QVERIFY2(r.error.empty(), r.error.c_str());
        QCOMPARE(r.predicted, int64_t(29));
        QCOMPARE(r.windows, int64_t(30 - 8 + 1));
        std::vector<int64_t> starts(ids.size());
        for (int64_t t = 0; t < 30; ++t)
            starts[t] = t == 0 ? -1 : std::max<int64_t>(0, t - 7);
        QVERIFY(near(r.nll, pplprobe::naiveNll(ids, starts)));
    }

    void overlappingWindowsScoreEachTokenOnce()
    {
        // 50 tokens, window 16, stride 6: windows start 0, 6, ..., 36 (the one that reaches the
        // end); window k scores tokens [prev_end, end) with context from its start.
        const auto ids = tokens(50);
        const auto r = pplprobe::library(ids, 16, 6);
        QVERIFY2(r.error.empty(), r.error.c_str());
        std::vector<int64_t> starts(ids.size(), -1);
        int64_t scored = 1, windows = 0;
        for (int64_t begin = 0;; begin += 6) {
            const int64_t end = std::min<int64_t>(begin + 16, 50);
            for (int64_t t = scored; t < end; ++t)
                starts[t] = begin;
            scored = end;
            ++windows;
            if (end == 50)
                break;
        }
        QCOMPARE(windows, int64_t(7));
        QCOMPARE(r.windows, windows);
        QCOMPARE(r.predicted, int64_t(49));
        QVERIFY(near(r.nll, pplprobe::naiveNll(ids, starts)));
    }

    void disjointWindowsLeaveEachWindowsFirstTokenUnscored()
    {
        // As transformers with stride = max_length: windows [0, 10), [10, 20), [20, 25).
        const auto ids = tokens(25);
        const auto r = pplprobe::library(ids, 10, 10);
        QVERIFY2(r.error.empty(), r.error.c_str());
        QCOMPARE(r.windows, int64_t(3));
        QCOMPARE(r.predicted, int64_t(25 - 3));
        std::vector<int64_t> starts(ids.size());
        for (int64_t t = 0; t < 25; ++t)
            starts[t] = t % 10 == 0 ? -1 : t / 10 * 10;
        QVERIFY(near(r.nll, pplprobe::naiveNll(ids, starts)));
    }

    void uniformPredictionsHavePerplexityVocabSize()
    {
        // Zero lm_head: every logit 0, p = 1/40 for every token, perplexity 40 exactly.
        QVERIFY(near(pplprobe::uniformModelPerplexity(tokens(40), 16, 5), 40.0));
    }

    void badSettingsAreErrors()
    {
        QVERIFY(pplprobe::library(tokens(20), 8, 9).error.find("stride 9 exceeds") !=
                std::string::npos);
        QVERIFY(pplprobe::library(tokens(20), 33, 0).error.find("window 33") != std::string::npos);
        QVERIFY(pplprobe::library(tokens(1), 8, 0).error.find("at least 2") != std::string::npos);
        // Defaults: the model's 32 positions, stride 16.
        const auto r = pplprobe::library(tokens(40), 0, 0);
        QVERIFY2(r.error.empty(), r.error.c_str());
        QCOMPARE(r.windows, int64_t(2));
        QCOMPARE(r.predicted, int64_t(39));
    }
};

QTEST_GUILESS_MAIN(TestPerplexity)
#include "tst_perplexity.moc"
