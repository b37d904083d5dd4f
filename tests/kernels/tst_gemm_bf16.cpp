// kernels/gemm_bf16.h: bf16 rounding by hand (ties to even, NaN, overflow), the packed layout,
// and every path within a float32 summation bound of the double-precision product of the bf16
// operands (gemm_bf16_ref), which itself lies within the bf16 rounding bound of the float32
// product; a row's bits do not depend on the rows beside it or on how the items are split.
#include "kernels/gemm_bf16.h"

#include "support/test_support.h"

#include <QtTest>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

using namespace qb::kernels;

namespace {

std::vector<KernelPath> pathsHere()
{
    std::vector<KernelPath> out{KernelPath::Portable};
    if (gemm_bf16_supported())
        out.push_back(KernelPath::Avx512);
    return out;
}

struct Case
{
    int64_t m, n, k, ldy;
    bool bias;
};

std::vector<float> run(const Case &c, const std::vector<float> &x, const std::vector<float> &w,
                       const std::vector<float> &bias, KernelPath path, int pieces = 1)
{
    std::vector<std::uint32_t> packed(gemm_bf16_packed_words(c.n, c.k));
    gemm_bf16_pack_panels(w.data(), c.n, c.k, packed.data(), 0, gemm_f32_panels(c.n));
    std::vector<std::uint32_t> xp(c.m * gemm_bf16_pairs(c.k));
    gemm_bf16_pack_rows(x.data(), c.k, c.k, xp.data(), 0, c.m);
    std::vector<float> y(c.m * c.ldy, -7.0f);
    GemmBf16Args a;
    a.x = xp.data(), a.m = c.m;
    a.packed = packed.data(), a.n = c.n, a.k = c.k;
    a.bias = c.bias ? bias.data() : nullptr;
    a.y = y.data(), a.ldy = c.ldy;
    const int64_t items = gemm_bf16_items(a);
    for (int p = 0; p < pieces; ++p)
        gemm_bf16(a, items * p / pieces, items * (p + 1) / pieces, path);
    return y;
}

float bits(std::uint32_t b)
{
    float v;
    std::memcpy(&v, &b, sizeof v);
    return v;
}

} // namespace

class TestGemmBf16 : public QObject
{
    Q_OBJECT

private slots:
    void roundsToNearestEven()
    {
        QCOMPARE(bf16_round(1.0f), std::uint16_t(0x3F80));
        QCOMPARE(bf16_round(-2.0f), std::uint16_t(0xC000));
        // 1 + 2^-8 is half a bf16 step above 1: a tie, to the even 1.0
        QCOMPARE(bf16_round(1.0f + 0x1p-8f), std::uint16_t(0x3F80));
        // 1 + 3 · 2^-8: a tie between steps 1 and 2, to the even step 2
        QCOMPARE(bf16_round(1.0f + 3 * 0x1p-8f), std::uint16_t(0x3F82));
        // just above the tie rounds up
        QCOMPARE(bf16_round(bits(0x3F808001u)), std::uint16_t(0x3F81));
        QCOMPARE(bf16_round(std::numeric_limits<float>::infinity()), std::uint16_t(0x7F80));
        QCOMPARE(bf16_round(std::numeric_limits<float>::max()), std::uint16_t(0x7F80));
        QVERIFY(std::isnan(bf16_value(bf16_round(std::nanf("")))));
        QCOMPARE(bf16_value(0x3F82), 1.015625f);
    }

    // The activation rows' conversion (AVX-512 BF16 where present) gives bf16_round's words:
    // ties, denormals, infinities, NaN and an odd last column included.
    void rowsPackAsRounded()
    {
        const int64_t k = 71;
        auto x = qbtest::normalValues(2 * k, 9);
        x[0] = 1.0f + 0x1p-8f;
        x[1] = 1.0f + 3 * 0x1p-8f;
        x[2] = 1e-40f;
        x[3] = -1e-40f;
        x[4] = std::numeric_limits<float>::infinity();
        x[5] = std::numeric_limits<float>::max();
        x[6] = std::nanf("");
        x[40] = bits(0x3F808000u);
        std::vector<std::uint32_t> out(2 * gemm_bf16_pairs(k), 0xDEADBEEFu);
        gemm_bf16_pack_rows(x.data(), k, k, out.data(), 0, 2);
        for (int64_t i = 0; i < 2; ++i)
            for (int64_t c = 0; c < k + 1; ++c) {
                const std::uint32_t word = out[i * gemm_bf16_pairs(k) + c / 2];
                const std::uint16_t got = c % 2 ? std::uint16_t(word >> 16) : std::uint16_t(word);
                const std::uint16_t want = c < k ? bf16_round(x[i * k + c]) : 0;
                QVERIFY2(got == want, qPrintable(QString("row %1 column %2: %3 vs %4")
                                                     .arg(i).arg(c).arg(got, 0, 16)
                                                     .arg(want, 0, 16)));
            }
        QCOMPARE(bf16_round(1e-40f), std::uint16_t(0));
        QCOMPARE(bf16_round(-1e-40f), std::uint16_t(0x8000));
    }

    void packedLayout()
    {
        // 33 rows x 3 columns: panel 0 holds rows 0-31, panel 1 row 32 and 31 zero rows;
        // column pairs (0, 1) and (2, missing).
        std::vector<float> w(33 * 3);
        for (int r = 0; r < 33; ++r)
            for (int c = 0; c < 3; ++c)
                w[r * 3 + c] = float(r * 4 + c);
        std::vector<std::uint32_t> packed(gemm_bf16_packed_words(33, 3), 0xDEADBEEFu);
        QCOMPARE(int64_t(packed.size()), int64_t(2 * 2 * 32));
        gemm_bf16_pack_panels(w.data(), 33, 3, packed.data(), 0, 2);
        auto word = [&](float lo, float hi) {
            return std::uint32_t(bf16_round(lo)) | std::uint32_t(bf16_round(hi)) << 16;
        };
        QCOMPARE(packed[0 * 32 + 5], word(20.0f, 21.0f));  // panel 0, pair 0, row 5
        QCOMPARE(packed[1 * 32 + 5], word(22.0f, 0.0f));   // pair 1: column 2, no column 3
        QCOMPARE(packed[2 * 32 + 0], word(128.0f, 129.0f)); // panel 1, pair 0, row 32
        QCOMPARE(packed[2 * 32 + 1], 0u);                   // missing row
        QCOMPARE(packed[3 * 32 + 0], word(130.0f, 0.0f));
    }

    void handComputed()
    {
        // x = [1, 2, 3], W rows [1, 1, 1] and [0.5, -1, 2]: 6 and 4.5 (all exact in bf16)
        const std::vector<float> x{1, 2, 3}, w{1, 1, 1, 0.5f, -1, 2}, bias{10, 20};
        for (KernelPath path : pathsHere()) {
            const auto y = run({1, 2, 3, 2, true}, x, w, bias, path);
            QCOMPARE(y[0], 16.0f);
            QCOMPARE(y[1], 24.5f);
        }
    }

    void pathsWithinBoundOfReference()
    {
        unsigned seed = 10;
        for (const Case &c : {Case{1, 5, 7, 5, false}, Case{13, 33, 65, 40, true},
                              Case{25, 64, 256, 64, true}, Case{200, 70, 31, 70, false}}) {
            const auto x = qbtest::normalValues(c.m * c.k, ++seed);
            const auto w = qbtest::normalValues(c.n * c.k, ++seed);
            const auto bias = qbtest::normalValues(c.n, ++seed);
            std::vector<float> ref(c.m * c.ldy), f32(c.m * c.ldy);
            gemm_bf16_ref(x.data(), c.m, c.k, w.data(), c.n, c.k,
                          c.bias ? bias.data() : nullptr, ref.data(), c.ldy);
            for (int64_t i = 0; i < c.m; ++i)
                for (int64_t j = 0; j < c.n; ++j) {
                    double acc = 0.0;
                    for (int64_t kk = 0; kk < c.k; ++kk)
                        acc += double(x[i * c.k + kk]) * w[j * c.k + kk];
                    f32[i * c.ldy + j] = float(c.bias ? acc + bias[j] : acc);
                }
            for (KernelPath path : pathsHere()) {
                const auto y = run(c, x, w, bias, path);
                const auto split = run(c, x, w, bias, path, 3);
                for (int64_t i = 0; i < c.m; ++i)
                    for (int64_t j = 0; j < c.n; ++j) {
                        double mag = 0.0;
                        for (int64_t kk = 0; kk < c.k; ++kk)
                            mag += std::fabs(double(x[i * c.k + kk]) * w[j * c.k + kk]);
                        const int64_t e = i * c.ldy + j;
                        // float32 sums of k exact products (plus the bias): at most (k + 1)
                        // roundings of 2^-24 relative to the running magnitude
                        const double sumBound = (c.k + 2) * 0x1p-24 * (mag + std::fabs(bias[j]));
                        QVERIFY2(std::fabs(y[e] - ref[e]) <= sumBound,
                                 qPrintable(QString("%1x%2x%3 (%4, %5): %6 vs %7")
                                                .arg(c.m).arg(c.n).arg(c.k).arg(i).arg(j)
                                                .arg(y[e], 0, 'g', 9).arg(ref[e], 0, 'g', 9)));
                        // each operand within 2^-9 of its float32 value, relatively
                        QVERIFY(std::fabs(ref[e] - f32[e]) <= (2 * 0x1p-9 + 0x1p-18) * mag + 1e-6);
                        QCOMPARE(split[e], y[e]);
                    }
                // rows beyond ldy's n columns are untouched
                if (c.ldy > c.n)
                    QCOMPARE(y[c.n], -7.0f);
            }
        }
    }

    void rowsDoNotDependOnTheirNeighbours()
    {
        const Case c{30, 40, 50, 40, true};
        const auto x = qbtest::normalValues(c.m * c.k, 3);
        const auto w = qbtest::normalValues(c.n * c.k, 4);
        const auto bias = qbtest::normalValues(c.n, 5);
        for (KernelPath path : pathsHere()) {
            const auto all = run(c, x, w, bias, path);
            for (int64_t i : {0, 11, 12, 29}) {
                const std::vector<float> xi(x.begin() + i * c.k, x.begin() + (i + 1) * c.k);
                const auto one = run({1, c.n, c.k, c.ldy, true}, xi, w, bias, path);
                for (int64_t j = 0; j < c.n; ++j)
                    QCOMPARE(one[j], all[i * c.ldy + j]);
            }
        }
    }
};

QTEST_APPLESS_MAIN(TestGemmBf16)
#include "tst_gemm_bf16.moc"
