// The small per-layer ops of a decoder (kernels/rms_norm.h, rotary.h, silu_mul.h): hand-computed
// cases, and the float32 versions against their double references on odd sizes, including
// results written over the input where the header allows it and SiLU over a wide range of
// gates (the polynomial e^x clamps below -87).
#include "kernels/rms_norm.h"
#include "kernels/rotary.h"
#include "kernels/silu_mul.h"

#include "support/test_support.h"

#include <QtTest>

#include <cmath>
#include <cstdint>
#include <vector>

using namespace qb::kernels;

namespace {

// Largest |a - b| / (|b| + floor) over the elements.
double worstRelative(const std::vector<float> &a, const std::vector<float> &b, double floor)
{
    double worst = 0;
    for (size_t i = 0; i < a.size(); ++i)
        worst = std::max(worst, std::abs(double(a[i]) - double(b[i])) / (std::abs(double(b[i])) + floor));
    return worst;
}

} // namespace

class TestLayerOps : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    // x = (3, 4): mean of squares 12.5; with w = (1, 2) and eps 0, y = (3, 8) / sqrt(12.5).
    void rmsNormHandComputed()
    {
        const std::vector<float> x{3.0f, 4.0f}, w{1.0f, 2.0f};
        std::vector<float> y(2), yr(2);
        rms_norm(x.data(), w.data(), 0.0f, y.data(), 1, 2);
        rms_norm_ref(x.data(), w.data(), 0.0f, yr.data(), 1, 2);
        const double r = 1.0 / std::sqrt(12.5);
        for (const auto *out : {&y, &yr}) {
            QVERIFY(std::abs((*out)[0] - 3 * r) < 1e-6);
            QVERIFY(std::abs((*out)[1] - 8 * r) < 1e-6);
        }
        // eps enters under the root: x = (0, 0) gives 0, x = (1, 1), eps 3 gives 1 / 2 · w.
        const std::vector<float> ones{1.0f, 1.0f};
        rms_norm(ones.data(), w.data(), 3.0f, y.data(), 1, 2);
        QVERIFY(std::abs(y[0] - 0.5f) < 1e-6 && std::abs(y[1] - 1.0f) < 1e-6);
    }

    void rmsNormMatchesReference()
    {
        for (int64_t cols : {1, 7, 8, 9, 256, 333}) {
            const int64_t rows = 5;
            const auto x = qbtest::normalValues(rows * cols, unsigned(cols), 0.0f, 3.0f);
            const auto w = qbtest::normalValues(cols, unsigned(cols) + 1);
            std::vector<float> y(x.size()), ref(x.size());
            rms_norm_ref(x.data(), w.data(), 1e-5f, ref.data(), rows, cols);
            rms_norm(x.data(), w.data(), 1e-5f, y.data(), rows, cols);
            QVERIFY2(worstRelative(y, ref, 1e-6) < 2e-6, qPrintable(QString("cols %1").arg(cols)));
            std::vector<float> inPlace = x;
            rms_norm(inPlace.data(), w.data(), 1e-5f, inPlace.data(), rows, cols);
            QVERIFY(inPlace == y);
        }
    }

    // D = 4, x = (1, 2, 3, 4): y = (1 c0 - 3 s0, 2 c1 - 4 s1, 3 c2 + 1 s2, 4 c3 + 2 s3).
    void rotaryHandComputed()
    {
        const std::vector<float> x{1, 2, 3, 4}, c{0.5f, 0.25f, 1.0f, -1.0f}, s{2, 3, 4, 5};
        const std::vector<float> expected{1 * 0.5f - 3 * 2.0f, 2 * 0.25f - 4 * 3.0f,
                                          3 * 1.0f + 1 * 4.0f, 4 * -1.0f + 2 * 5.0f};
        std::vector<float> y(4), yr(4);
        rotary(x.data(), c.data(), s.data(), y.data(), 1, 1, 4);
        rotary_ref(x.data(), c.data(), s.data(), yr.data(), 1, 1, 4);
        QCOMPARE(y, expected);
        QCOMPARE(yr, expected);
    }

    // A position's cos/sin row serves all its heads, and each position has its own.
    void rotaryMatchesReference()
    {
        for (auto [positions, heads, d] : {std::tuple{3, 8, 32}, {5, 1, 2}, {2, 3, 6}, {4, 2, 64}}) {
            const auto x = qbtest::normalValues(positions * heads * d, unsigned(d));
            const auto c = qbtest::normalValues(positions * d, unsigned(d) + 1);
            const auto s = qbtest::normalValues(positions * d, unsigned(d) + 2);
            std::vector<float> y(x.size()), ref(x.size());
            rotary_ref(x.data(), c.data(), s.data(), ref.data(), positions, heads, d);
            rotary(x.data(), c.data(), s.data(), y.data(), positions, heads, d);
            // Two float products and a sum: within a few ulps of |x c| + |x' s| (the result
            // itself may cancel to near zero).
            for (int64_t p = 0; p < positions; ++p)
                for (int64_t h = 0; h < heads; ++h)
                    for (int64_t i = 0; i < d; ++i) {
                        const int64_t at = (p * heads + h) * d + i;
                        const int64_t other = (p * heads + h) * d + (i < d / 2 ? i + d / 2 : i - d / 2);
                        const double scale = std::abs(x[at] * c[p * d + i])
                            + std::abs(x[other] * s[p * d + i]);
                        QVERIFY2(std::abs(double(y[at]) - double(ref[at])) <= 3e-7 * scale + 1e-30,
                                 qPrintable(QString("head_dim %1, element %2").arg(d).arg(at)));
                    }
        }
    }

    // silu(0) = 0, silu(1) = 1 / (1 + e^-1), silu(-1) = -1 / (1 + e); times u.
    void siluMulHandComputed()
    {
        const std::vector<float> g{0.0f, 1.0f, -1.0f}, u{5.0f, 2.0f, 3.0f};
        std::vector<float> y(3), yr(3);
        silu_mul(g.data(), u.data(), y.data(), 3);
        silu_mul_ref(g.data(), u.data(), yr.data(), 3);
        const double e = std::exp(1.0);
        const double expected[] = {0.0, 2.0 / (1.0 + 1.0 / e), -3.0 / (1.0 + e)};
        for (int i = 0; i < 3; ++i) {
            QVERIFY(std::abs(y[i] - expected[i]) < 1e-6);
            QVERIFY(std::abs(yr[i] - expected[i]) < 1e-6);
        }
    }

    void siluMulMatchesReference()
    {
        for (int64_t n : {1, 7, 8, 9, 1000, 40960}) {
            auto g = qbtest::normalValues(n, unsigned(n), 0.0f, 4.0f);
            if (n >= 8) { // the tails of the polynomial's range and beyond
                g[0] = -100.0f, g[1] = -87.5f, g[2] = -30.0f, g[3] = 30.0f, g[4] = 100.0f;
                g[5] = 1e-8f, g[6] = -1e-8f;
            }
            const auto u = qbtest::normalValues(n, unsigned(n) + 1);
            std::vector<float> y(n), ref(n);
            silu_mul_ref(g.data(), u.data(), ref.data(), n);
            silu_mul(g.data(), u.data(), y.data(), n);
            QVERIFY2(worstRelative(y, ref, 1e-6) < 1e-6, qPrintable(QString("n %1").arg(n)));
            std::vector<float> inPlace = g;
            silu_mul(inPlace.data(), u.data(), inPlace.data(), n);
            QVERIFY(inPlace == y);
        }
    }
};

QTEST_APPLESS_MAIN(TestLayerOps)
#include "tst_layer_ops.moc"
