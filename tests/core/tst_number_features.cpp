// Number features of the built-in reasoner's vocabulary: which tokens share which features
// (hand-derived from the digits), and the factored embedding's gradient and update against
// autograd through the explicit parametrization E = W + F . S.
#include "train/number_features.h"

#include <QtTest>

#include <algorithm>
#include <set>

namespace probe {
double factoredEmbeddingError();
}

namespace {

size_t shared(const std::string &a, const std::string &b)
{
    const auto fa = qb::numberFeatureIndices(a), fb = qb::numberFeatureIndices(b);
    const std::set<int> sa(fa.begin(), fa.end());
    return std::count_if(fb.begin(), fb.end(), [&](int i) { return sa.count(i) > 0; });
}

} // namespace

class TestNumberFeatures : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void featureCounts()
    {
        QVERIFY(qb::numberFeatureIndices("apples").empty());
        QVERIFY(qb::numberFeatureIndices("(B)").empty());
        QVERIFY(qb::numberFeatureIndices("1.2.3").empty());
        // number, integer, decade 1, first 5, second 7, units 7, tens 5, hundreds 0
        QCOMPARE(qb::numberFeatureIndices("57").size(), size_t(8));
        // number, decade -2, first 3, second 5
        QCOMPARE(qb::numberFeatureIndices("0.035").size(), size_t(4));
        // number, integer, decade 4, first 3, second 5
        QCOMPARE(qb::numberFeatureIndices("35000").size(), size_t(5));
        // number, integer, zero, units 0, tens 0, hundreds 0
        QCOMPARE(qb::numberFeatureIndices("0").size(), size_t(6));
        // number, negative, decade 0, first 3, second 2
        QCOMPARE(qb::numberFeatureIndices("-3.25").size(), size_t(5));
        // scientific form: number, integer, decade 9, first 1, second 2
        QCOMPARE(qb::numberFeatureIndices("1.234e+09").size(), size_t(5));
        for (const char *t : {"57", "0.035", "35000", "0", "-3.25", "1.234e+09"})
            for (int i : qb::numberFeatureIndices(t))
                QVERIFY(i >= 0 && i < qb::numberFeatureCount());
    }

    void sharedDigits()
    {
        // 57 and 27: number, integer, decade 1, second digit 7, units 7, hundreds 0.
        QCOMPARE(shared("57", "27"), size_t(6));
        // 57 and 7: number, integer, units 7, hundreds 0 (7 has tens 0, decade 0, first 7).
        QCOMPARE(shared("57", "7"), size_t(4));
        // 0.035 and 35000: number, first 3, second 5, not the decade.
        QCOMPARE(shared("0.035", "35000"), size_t(3));
        QCOMPARE(shared("57", "apples"), size_t(0));
    }

    void factoredEmbeddingMatchesAutograd() { QVERIFY(probe::factoredEmbeddingError() < 1e-5); }
};

QTEST_GUILESS_MAIN(TestNumberFeatures)
#include "tst_number_features.moc"
