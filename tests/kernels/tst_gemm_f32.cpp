// kernels/gemm_f32.h: the packed layout, a hand-computed product, and every path bit-identical to
// gemm_f32_ref (one float32 fused multiply-add chain per output, in k order) on odd shapes —
// rows across tile and row-block edges, columns across the 32-wide panels, strided x and y —
// with the reference itself within a rounding bound of a double-precision product; a row's bits
// do not depend on the rows beside it or on how the items are split.
#include "kernels/gemm_f32.h"

#include "support/test_support.h"

#include <QtTest>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

using namespace qb::kernels;

namespace {

std::vector<KernelPath> pathsHere()
{
    std::vector<KernelPath> out;
    for (KernelPath path : {KernelPath::Scalar, KernelPath::Portable, KernelPath::Avx2,
                            KernelPath::Avx512})
        if (kernel_path_supported(path))
            out.push_back(path);
    return out;
}

struct Case
{
    int64_t m, n, k, ldx, ldy;
    bool bias;
};

// y (ldy-strided, filled with a sentinel first) through `path`, items [0, items) in `pieces`
// calls.
std::vector<float> run(const Case &c, const std::vector<float> &x, const std::vector<float> &w,
                       const std::vector<float> &bias, KernelPath path, int pieces = 1)
{
    std::vector<float> packed(gemm_f32_packed_floats(c.n, c.k));
    gemm_f32_pack(w.data(), c.n, c.k, packed.data());
    std::vector<float> y(c.m * c.ldy, -7.0f);
    GemmF32Args a;
    a.x = x.data(), a.m = c.m, a.ldx = c.ldx;
    a.packed = packed.data(), a.n = c.n, a.k = c.k;
    a.bias = c.bias ? bias.data() : nullptr;
    a.y = y.data(), a.ldy = c.ldy;
    const int64_t items = gemm_f32_items(a);
    for (int p = 0; p < pieces; ++p)
        gemm_f32(a, items * p / pieces, items * (p + 1) / pieces, path);
    return y;
}

bool sameBits(const std::vector<float> &a, const std::vector<float> &b)
{
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

} // namespace

class TestGemmF32 : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    // Row r of W, column c lands at panel r / 32, offset c · 32 + r % 32; the rest is zero.
    void packedLayout()
    {
        const int64_t rows = 35, cols = 3;
        std::vector<float> w(rows * cols);
        for (int64_t i = 0; i < rows * cols; ++i)
            w[i] = float(i + 1);
        QCOMPARE(gemm_f32_panels(rows), int64_t(2));
        std::vector<float> packed(gemm_f32_packed_floats(rows, cols), -1.0f);
        QCOMPARE(int64_t(packed.size()), int64_t(2 * 3 * 32));
        gemm_f32_pack(w.data(), rows, cols, packed.data());
        QCOMPARE(packed[0], w[0]);                     // W[0, 0]
        QCOMPARE(packed[1 * 32 + 5], w[5 * cols + 1]); // W[5, 1]
        QCOMPARE(packed[3 * 32 + 2 * 32 + 1], w[33 * cols + 2]); // W[33, 2]: panel 1, k 2, lane 1
        QCOMPARE(packed[3 * 32 + 0 * 32 + 3], 0.0f);   // row 35 does not exist
        QCOMPARE(packed.back(), 0.0f);
    }

    // Every path's pack against the layout's definition, value by value, on shapes whose rows
    // and columns end inside the 8 x 8 blocks the SIMD paths move (and inside a panel), with
    // panels packed in two calls.
    void everyPathPacksTheLayout()
    {
        for (auto [rows, cols] : {std::pair<int64_t, int64_t>{35, 3}, {8, 8}, {32, 256},
                                  {45, 19}, {70, 131}, {17, 1}})
            for (KernelPath path : pathsHere()) {
                std::vector<float> w(rows * cols);
                for (int64_t i = 0; i < rows * cols; ++i)
                    w[i] = float(i + 1);
                std::vector<float> packed(gemm_f32_packed_floats(rows, cols), -1.0f);
                const int64_t panels = gemm_f32_panels(rows), half = panels / 2;
                gemm_f32_pack_panels(w.data(), rows, cols, packed.data(), half, panels, path);
                gemm_f32_pack_panels(w.data(), rows, cols, packed.data(), 0, half, path);
                for (int64_t p = 0; p < panels; ++p)
                    for (int64_t c = 0; c < cols; ++c)
                        for (int64_t lane = 0; lane < 32; ++lane) {
                            const int64_t r = p * 32 + lane;
                            const float want = r < rows ? w[r * cols + c] : 0.0f;
                            const float got = packed[(p * cols + c) * 32 + lane];
                            if (got != want)
                                QFAIL(qPrintable(QString("%1 x %2, %3: W[%4, %5] packed as %6")
                                                     .arg(rows).arg(cols)
                                                     .arg(kernel_path_name(path)).arg(r).arg(c)
                                                     .arg(got)));
                        }
            }
    }

    // A panel filled a few rows at a time (gemm_f32_pack_rows, as the quantized linears' panel
    // GEMM fills it) against the layout's definition: rows split 8 + 8 + 8 + 8, 5 + 3 + 24,
    // 13 + 19 and 6 + 10 (rows 16-31 never written: they keep what they held), columns ending
    // inside and outside the 8 x 8 blocks. Offsets past the panel are refused.
    void panelPackedRowsAtATime()
    {
        for (int64_t cols : {1, 8, 19, 131})
            for (const std::vector<int64_t> &split :
                 {std::vector<int64_t>{8, 8, 8, 8}, {5, 3, 24}, {13, 19}, {6, 10}})
                for (KernelPath path : pathsHere()) {
                    std::vector<float> w(32 * cols);
                    for (int64_t i = 0; i < 32 * cols; ++i)
                        w[i] = float(i + 1);
                    std::vector<float> panel(32 * cols, -1.0f);
                    int64_t r0 = 0;
                    for (int64_t n : split) {
                        gemm_f32_pack_rows(w.data() + r0 * cols, n, cols, panel.data(), r0, path);
                        r0 += n;
                    }
                    for (int64_t c = 0; c < cols; ++c)
                        for (int64_t r = 0; r < 32; ++r) {
                            const float want = r < r0 ? w[r * cols + c] : -1.0f;
                            if (panel[c * 32 + r] != want)
                                QFAIL(qPrintable(QString("%1 columns, %2: W[%3, %4] packed as %5")
                                                     .arg(cols).arg(kernel_path_name(path))
                                                     .arg(r).arg(c).arg(panel[c * 32 + r])));
                        }
                }
        std::vector<float> w(8), panel(32);
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument,
                                 gemm_f32_pack_rows(w.data(), 8, 1, panel.data(), 25,
                                                    KernelPath::Portable));
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument,
                                 gemm_f32_pack_rows(w.data(), 1, 1, panel.data(), -1,
                                                    KernelPath::Portable));
    }

    // x = [[1, 2], [3, 4]], W = [[1, 0], [0, 1], [1, 1]], b = [0.5, 0, -1]:
    // y = [[1.5, 2, 2], [3.5, 4, 6]].
    void handComputed()
    {
        const std::vector<float> x{1, 2, 3, 4}, w{1, 0, 0, 1, 1, 1}, b{0.5f, 0, -1};
        const std::vector<float> want{1.5f, 2, 2, 3.5f, 4, 6};
        for (KernelPath path : pathsHere()) {
            const auto y = run({2, 3, 2, 2, 3, true}, x, w, b, path);
            QVERIFY2(y == want, kernel_path_name(path));
        }
        std::vector<float> yr(6);
        gemm_f32_ref(x.data(), 2, 2, w.data(), 3, 2, b.data(), yr.data(), 3);
        QVERIFY(yr == want);
    }

    void everyPathMatchesReference()
    {
        const std::vector<Case> cases{
            {1, 1, 1, 1, 1, false},     {1, 33, 17, 17, 33, true},  {5, 31, 3, 5, 40, true},
            {12, 32, 256, 256, 32, false}, {13, 64, 9, 9, 64, true}, {64, 70, 256, 260, 75, true},
            {200, 40, 33, 33, 40, true}, {385, 3, 5, 7, 3, false},  {7, 100, 640, 640, 100, true},
            // 1-3 rows over several full panels (wide tiles of 2-4 panels) and a partial one
            {1, 200, 70, 70, 200, true}, {1, 96, 5, 6, 97, false}, {2, 130, 33, 40, 131, true},
            {3, 300, 17, 17, 300, false},
        };
        for (const Case &c : cases) {
            const auto x = qbtest::normalValues(c.m * c.ldx, unsigned(c.m * 7 + c.k));
            const auto w = qbtest::normalValues(c.n * c.k, unsigned(c.n * 3 + 1));
            const auto b = qbtest::normalValues(c.n, unsigned(c.n + 5));
            std::vector<float> want(c.m * c.ldy, -7.0f);
            gemm_f32_ref(x.data(), c.m, c.ldx, w.data(), c.n, c.k, c.bias ? b.data() : nullptr,
                         want.data(), c.ldy);
            // The reference against a double-precision product: each fma rounds once, so the
            // error is at most k · 2^-24 · Σ|x w| (plus the bias's rounding).
            for (int64_t i = 0; i < c.m; ++i)
                for (int64_t j = 0; j < c.n; ++j) {
                    double exact = c.bias ? b[j] : 0.0, magnitude = std::abs(exact);
                    for (int64_t kk = 0; kk < c.k; ++kk) {
                        exact += double(x[i * c.ldx + kk]) * w[j * c.k + kk];
                        magnitude += std::abs(double(x[i * c.ldx + kk]) * w[j * c.k + kk]);
                    }
                    const double bound = (c.k + 1) * std::ldexp(magnitude, -24) + 1e-30;
                    QVERIFY(std::abs(want[i * c.ldy + j] - exact) <= bound);
                }
            for (KernelPath path : pathsHere()) {
                const QByteArray what = QByteArray(kernel_path_name(path))
                    + " m=" + QByteArray::number(qint64(c.m))
                    + " n=" + QByteArray::number(qint64(c.n))
                    + " k=" + QByteArray::number(qint64(c.k));
                // Columns past n of each y row keep the sentinel: sameBits covers them too.
                QVERIFY2(sameBits(run(c, x, w, b, path), want), what.constData());
                QVERIFY2(sameBits(run(c, x, w, b, path, 3), want), what.constData());
                QVERIFY2(sameBits(run(c, x, w, b, path, 7), want), what.constData());
            }
        }
    }

    // gemm_f32_panel, each panel handed over from a buffer of its own (as a caller decoding one
    // panel at a time does), gives the bits of gemm_f32.
    void panelByPanelMatchesWhole()
    {
        const Case c{200, 70, 33, 33, 70, true};
        const auto x = qbtest::normalValues(c.m * c.k, 21);
        const auto w = qbtest::normalValues(c.n * c.k, 22);
        const auto b = qbtest::normalValues(c.n, 23);
        std::vector<float> packed(gemm_f32_packed_floats(c.n, c.k));
        gemm_f32_pack(w.data(), c.n, c.k, packed.data());
        for (KernelPath path : pathsHere()) {
            std::vector<float> y(c.m * c.n, -7.0f);
            GemmF32Args a;
            a.x = x.data(), a.m = c.m, a.ldx = c.k;
            a.n = c.n, a.k = c.k, a.bias = b.data();
            a.y = y.data(), a.ldy = c.n;
            for (int64_t p = 0; p < gemm_f32_panels(c.n); ++p) {
                const std::vector<float> own(packed.begin() + p * c.k * kGemmPanel,
                                             packed.begin() + (p + 1) * c.k * kGemmPanel);
                gemm_f32_panel(a, own.data(), p, 0, c.m, path);
            }
            QVERIFY2(sameBits(y, run(c, x, w, b, path)), kernel_path_name(path));
        }
    }

    // A row computed alone (four panels in one tile) gives the bits it gets among 64 rows (one
    // panel a tile).
    void rowsDoNotDependOnTheirNeighbours()
    {
        const Case all{64, 141, 96, 96, 141, true};
        const auto x = qbtest::normalValues(all.m * all.k, 11);
        const auto w = qbtest::normalValues(all.n * all.k, 12);
        const auto b = qbtest::normalValues(all.n, 13);
        for (KernelPath path : pathsHere()) {
            const auto batch = run(all, x, w, b, path);
            for (int64_t i : {0, 11, 12, 63}) {
                const std::vector<float> row(x.begin() + i * all.k, x.begin() + (i + 1) * all.k);
                const auto alone = run({1, all.n, all.k, all.k, all.n, true}, row, w, b, path);
                QVERIFY(std::memcmp(alone.data(), batch.data() + i * all.n,
                                    all.n * sizeof(float)) == 0);
            }
        }
    }
};

QTEST_GUILESS_MAIN(TestGemmF32)
#include "tst_gemm_f32.moc"
