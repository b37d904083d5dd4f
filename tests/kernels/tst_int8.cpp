// Row-wise INT8, LLM.int8() outlier columns, and the int8 GEMM (fast equals reference exactly).
#include "kernels/int8_gemm.h"
#include "kernels/int8_rowwise.h"

#include <QtTest>

#include <cmath>
#include <random>
#include <vector>

using namespace qb::kernels;

class TestInt8 : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void handComputedRow()
    {
        // absmax 2.54 -> scale 0.02; x * 127/2.54 = x * 50: [127, -63.5 -> -64 (ties to even),
        // 25, 0.5 -> 0, -127].
        const std::vector<float> x = {2.54f, -1.27f, 0.5f, 0.01f, -2.54f};
        std::int8_t q[5];
        float scale;
        quantize_int8_rowwise_ref(x.data(), 1, 5, q, &scale);
        QVERIFY(std::fabs(scale - 0.02f) < 1e-7f);
        QCOMPARE(int(q[0]), 127);
        QCOMPARE(int(q[2]), 25);
        QCOMPARE(int(q[3]), 0);
        QCOMPARE(int(q[4]), -127);
        QVERIFY(q[1] == -63 || q[1] == -64); // -1.27 * 50 is within float rounding of -63.5
    }

    void fastMatchesReference()
    {
        std::mt19937 rng(1);
        std::normal_distribution<float> dist(0.0f, 1.0f);
        for (std::int64_t cols : {1, 15, 16, 100, 4096}) {
            const std::int64_t rows = 7;
            std::vector<float> x(rows * cols);
            for (auto &v : x)
                v = dist(rng);
            std::fill(x.begin(), x.begin() + cols, 0.0f); // an all-zero row
            std::vector<std::int8_t> qr(x.size()), qf(x.size());
            std::vector<float> sr(rows), sf(rows), orf(x.size()), off(x.size());
            quantize_int8_rowwise_ref(x.data(), rows, cols, qr.data(), sr.data());
            quantize_int8_rowwise(x.data(), rows, cols, qf.data(), sf.data());
            QVERIFY(qr == qf);
            QVERIFY(sr == sf);
            QCOMPARE(sr[0], 0.0f);
            dequantize_int8_rowwise_ref(qr.data(), sr.data(), rows, cols, orf.data());
            dequantize_int8_rowwise(qr.data(), sr.data(), rows, cols, off.data());
            QVERIFY(orf == off);
            for (std::size_t i = 0; i < x.size(); ++i)
                QVERIFY(std::fabs(orf[i] - x[i]) <= 0.5f * sr[i / cols] * 1.0001f);
        }
    }

    void outlierColumns()
    {
        // 3 tokens x 6 features; |x| >= 6 in columns 1 (row 0) and 4 (rows 1 and 2, one -6).
        const std::vector<float> x = {0.1f, 7.0f, 0.2f, -0.3f, 1.0f,  0.0f,
                                      0.5f, 0.1f, 0.2f, 0.3f,  -6.0f, 0.4f,
                                      1.0f, 0.1f, 5.9f, 0.3f,  8.0f,  -2.0f};
        const std::vector<std::int32_t> cols = find_outlier_columns(x.data(), 3, 6, 6.0f);
        QCOMPARE(cols, (std::vector<std::int32_t>{1, 4}));

        std::int8_t q[18];
        float scale[3];
        const std::vector<std::int32_t> got =
            quantize_int8_vectorwise(x.data(), 3, 6, 6.0f, q, scale);
        QCOMPARE(got, cols);
        // Row 2 without columns 1 and 4: absmax 5.9 (column 2), not 8.
        QVERIFY(std::fabs(scale[2] - 5.9f / 127.0f) < 1e-7f);
        QCOMPARE(int(q[2 * 6 + 2]), 127);
        for (int r = 0; r < 3; ++r) {
            QCOMPARE(int(q[r * 6 + 1]), 0);
            QCOMPARE(int(q[r * 6 + 4]), 0);
        }
        // No threshold: plain row-wise quantization.
        QVERIFY(quantize_int8_vectorwise(x.data(), 3, 6, 0.0f, q, scale).empty());
        QVERIFY(std::fabs(scale[2] - 8.0f / 127.0f) < 1e-7f);
    }

    void gemmHandComputed()
    {
        // A [2, 3], B [2, 3]: C = A B^T.
        const std::int8_t a[6] = {1, 2, 3, -4, 5, -6};
        const std::int8_t b[6] = {7, 8, 9, -1, 0, 127};
        std::int32_t c[4];
        gemm_s8s8s32(a, b, 2, 2, 3, c);
        QCOMPARE(c[0], 1 * 7 + 2 * 8 + 3 * 9);        // 50
        QCOMPARE(c[1], 1 * -1 + 3 * 127);             // 380
        QCOMPARE(c[2], -4 * 7 + 5 * 8 + -6 * 9);      // -42
        QCOMPARE(c[3], 4 + -6 * 127);                 // -758
    }

    void gemmFastEqualsReference()
    {
        std::mt19937 rng(9);
        std::uniform_int_distribution<int> dist(-127, 127);
        for (auto [m, n, k] : {std::tuple<int, int, int>{1, 1, 1}, {3, 5, 17}, {8, 8, 64},
                               {7, 13, 333}, {16, 36, 4096}, {5, 6, 65}, {9, 4, 128}}) {
            std::vector<std::int8_t> a(std::size_t(m) * k), b(std::size_t(n) * k);
            for (auto &v : a)
                v = static_cast<std::int8_t>(dist(rng));
            for (auto &v : b)
                v = static_cast<std::int8_t>(dist(rng));
            a[0] = -127;
            b[0] = -127;
            std::vector<std::int32_t> cr(std::size_t(m) * n), cf(std::size_t(m) * n);
            gemm_s8s8s32_ref(a.data(), b.data(), m, n, k, cr.data());
            gemm_s8s8s32(a.data(), b.data(), m, n, k, cf.data());
            QVERIFY2(cr == cf, qPrintable(QString("%1x%2x%3").arg(m).arg(n).arg(k)));
            // In three column ranges (ends inside the kernel's blocks of four), no column written
            // twice or left out.
            std::vector<std::int32_t> cs(cf.size(), INT32_MIN);
            const int cut1 = n / 3, cut2 = n - n / 4;
            gemm_s8s8s32_cols(a.data(), b.data(), m, n, k, cs.data(), cut2, n);
            gemm_s8s8s32_cols(a.data(), b.data(), m, n, k, cs.data(), 0, cut1);
            gemm_s8s8s32_cols(a.data(), b.data(), m, n, k, cs.data(), cut1, cut2);
            QVERIFY2(cr == cs, qPrintable(QString("cols %1x%2x%3").arg(m).arg(n).arg(k)));
            // Each path (VNNI where the CPU has it), in two column ranges.
            for (KernelPath path : {KernelPath::Avx2, KernelPath::Avx512}) {
                std::vector<std::int32_t> cp(cf.size(), INT32_MIN);
                gemm_s8s8s32_cols(a.data(), b.data(), m, n, k, cp.data(), 0, cut1, path);
                gemm_s8s8s32_cols(a.data(), b.data(), m, n, k, cp.data(), cut1, n, path);
                QVERIFY2(cr == cp, qPrintable(QString("%1 %2x%3x%4")
                                                  .arg(kernel_path_name(path))
                                                  .arg(m).arg(n).arg(k)));
            }
        }
    }
};

QTEST_APPLESS_MAIN(TestInt8)
#include "tst_int8.moc"
