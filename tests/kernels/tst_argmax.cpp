// kernels/argmax.h: hand-written rows for torch's rules (first index of the maximum on ties,
// the first NaN wins, -inf and single columns), and the fast version equal to the reference on
// random rows of odd widths, with ties and NaNs planted at either end and in the middle.
#include "kernels/argmax.h"

#include "support/test_support.h"

#include <QtTest>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

using namespace qb::kernels;

namespace {

std::int64_t both(const std::vector<float> &row, std::int64_t *fast)
{
    std::int64_t ref = -1;
    argmax_rows_ref(row.data(), 1, std::int64_t(row.size()), std::int64_t(row.size()), &ref);
    argmax_rows(row.data(), 1, std::int64_t(row.size()), std::int64_t(row.size()), fast);
    return ref;
}

} // namespace

class TestArgmax : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void handWritten()
    {
        const float nan = std::numeric_limits<float>::quiet_NaN();
        const float inf = std::numeric_limits<float>::infinity();
        const struct
        {
            std::vector<float> row;
            std::int64_t want;
        } cases[] = {
            {{3.0f}, 0},
            {{1.0f, 5.0f, 2.0f}, 1},
            {{7.0f, 7.0f, 7.0f}, 0},                  // ties: the first
            {{1.0f, 9.0f, 3.0f, 9.0f}, 1},
            {{-inf, -inf, -2.0f}, 2},
            {{-inf, -inf}, 0},
            {{1.0f, nan, 5.0f, nan}, 1},              // the first NaN
            {{nan, 100.0f}, 0},
            {{inf, nan}, 1},
            {{-0.0f, 0.0f}, 0},                       // equal values
        };
        for (const auto &c : cases) {
            std::int64_t fast = -1;
            QCOMPARE(both(c.row, &fast), c.want);
            QCOMPARE(fast, c.want);
        }
    }

    void matchesReference()
    {
        const float nan = std::numeric_limits<float>::quiet_NaN();
        for (std::int64_t cols : {1, 2, 15, 16, 17, 33, 3534}) {
            const std::int64_t rows = 9, ld = cols + 3;
            auto x = qbtest::normalValues(rows * ld, unsigned(cols));
            for (std::int64_t r = 0; r < rows; ++r) {
                float *row = x.data() + r * ld;
                const std::int64_t last = cols - 1, mid = cols / 2;
                switch (r) {
                case 1: row[last] = 50.0f; break;                       // maximum at the end
                case 2: row[mid] = row[last] = 50.0f; break;            // tie: the middle one
                case 3: row[last] = nan; break;
                case 4: row[mid] = nan, row[0] = 60.0f; break;
                case 5: row[0] = row[mid] = 70.0f; break;
                default: break;
                }
            }
            std::vector<std::int64_t> ref(rows, -1), fast(rows, -2);
            argmax_rows_ref(x.data(), rows, cols, ld, ref.data());
            argmax_rows(x.data(), rows, cols, ld, fast.data());
            QCOMPARE(fast, ref);
            if (cols > 2) {
                QCOMPARE(ref[1], cols - 1);
                QCOMPARE(ref[2], cols / 2);
                QCOMPARE(ref[3], cols - 1);
                QCOMPARE(ref[4], cols / 2);
                QCOMPARE(ref[5], std::int64_t(0));
            }
        }
    }
};

QTEST_GUILESS_MAIN(TestArgmax)
#include "tst_argmax.moc"
