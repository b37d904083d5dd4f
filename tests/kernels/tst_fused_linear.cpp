// Fused dequantize-GEMV/GEMM (kernels/fused_linear.h): the scalar reference against the
// dequantize kernels of each format (x = identity rows), a hand-computed case, and every path the
// CPU has (portable, avx2, avx512; a path it lacks is skipped with a message) against the
// reference on odd shapes, tails, every group/block size, per channel, symmetric/asymmetric,
// real zero points (zeros_f), double-quantized absmax, 1..33 activation rows and split row ranges.
// The int8-activation kernels (fused_linear_q8.h): a hand-computed case, the activation rounding's
// bounds, VNNI against its scalar reference, and both within the rounding's bound of the float
// reference.
#include "kernels/double_quant.h"
#include "kernels/fused_decode.h"
#include "kernels/fused_linear.h"
#include "kernels/fused_linear_q8.h"
#include "kernels/gemm_f32.h"
#include "kernels/int8_rowwise.h"
#include "kernels/int_group.h"
#include "kernels/nf4.h"
#include "kernels/read_bandwidth.h"

#include "support/test_support.h"

#include <QtTest>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <random>
#include <string>
#include <vector>

using namespace qb::kernels;

namespace {

// The paths sum in float32 in another order than the double reference. Bound: relative to
// sum_c |x_c w_c| (one wrong weight among <= 1000 columns moves y by ~1e-3 of that sum).
constexpr double kRelTolerance = 2e-5;
constexpr double kAbsTolerance = 1e-6;

// A quantized weight with its storage kept alive.
struct Packed
{
    std::string name;
    std::vector<std::int8_t> q8;
    std::vector<std::uint8_t> packed, zerosU8, absmaxCodes;
    std::vector<float> scales, zerosF, absmax, absmaxScales, bias;
    FusedWeight w;
};

Packed int8Row(std::int64_t rows, std::int64_t cols, unsigned seed)
{
    Packed p;
    p.name = "int8 " + std::to_string(rows) + "x" + std::to_string(cols);
    const auto w = qbtest::normalValues(rows * cols, seed, 0.0f, 0.05f);
    p.q8.resize(w.size());
    p.scales.resize(rows);
    quantize_int8_rowwise_ref(w.data(), rows, cols, p.q8.data(), p.scales.data());
    p.bias = qbtest::normalValues(rows, seed + 1);
    p.w = fused_weight_int8_row(p.q8.data(), p.scales.data(), rows, cols, p.bias.data());
    return p;
}

// zerosMode: 0 = as configured, 1 = real zero points (zeros_f) in [0, 2^k - 1].
Packed intGroup(std::int64_t rows, std::int64_t cols, int bits, int group, bool symmetric,
                bool realZeros, unsigned seed)
{
    Packed p;
    p.name = "int" + std::to_string(bits) + " g" + std::to_string(group)
        + (symmetric ? " sym " : " asym ") + (realZeros ? "zeros_f " : "") + std::to_string(rows)
        + "x" + std::to_string(cols);
    const IntGroupConfig cfg{bits, group, symmetric};
    const auto w = qbtest::normalValues(rows * cols, seed, 0.01f, 0.05f);
    const std::int64_t groups = int_group_groups_per_row(cfg, cols);
    p.packed.resize(static_cast<std::size_t>(rows * int_group_row_bytes(bits, cols)));
    p.scales.resize(static_cast<std::size_t>(rows * groups));
    if (!symmetric)
        p.zerosU8.resize(p.scales.size());
    quantize_int_group_ref(w.data(), rows, cols, cfg, p.packed.data(), p.scales.data(),
                           symmetric ? nullptr : p.zerosU8.data());
    if (realZeros) {
        std::mt19937 rng(seed + 2);
        std::uniform_real_distribution<float> u(0.0f, float((1 << bits) - 1));
        p.zerosF.resize(p.scales.size());
        for (auto &z : p.zerosF)
            z = u(rng);
    }
    if (seed % 2)
        p.bias = qbtest::normalValues(rows, seed + 3);
    p.w = fused_weight_int_group(p.packed.data(), p.scales.data(),
                                 symmetric ? nullptr : p.zerosU8.data(),
                                 realZeros ? p.zerosF.data() : nullptr, bits, group, rows, cols,
                                 p.bias.empty() ? nullptr : p.bias.data());
    return p;
}

Packed blockwise4(Codebook4 kind, std::int64_t rows, std::int64_t cols, int block,
                  bool doubleQuant, unsigned seed)
{
    Packed p;
    p.name = std::string(kind == Codebook4::Nf4 ? "nf4" : "fp4") + " b" + std::to_string(block)
        + (doubleQuant ? " dq " : " ") + std::to_string(rows) + "x" + std::to_string(cols);
    const std::int64_t n = rows * cols;
    const auto w = qbtest::normalValues(n, seed, 0.0f, 0.05f);
    p.packed.resize(static_cast<std::size_t>(blockwise4_packed_bytes(n)));
    p.absmax.resize(static_cast<std::size_t>(blockwise4_num_blocks(n, block)));
    quantize_blockwise4_ref(kind, w.data(), n, block, p.packed.data(), p.absmax.data());
    float offset = 0.0f;
    if (doubleQuant) {
        const auto dq = double_quantize_absmax_ref(p.absmax.data(),
                                                   static_cast<std::int64_t>(p.absmax.size()));
        p.absmaxCodes = dq.codes;
        p.absmaxScales = dq.scales;
        offset = dq.offset;
    }
    p.w = fused_weight_blockwise4(kind, p.packed.data(), doubleQuant ? nullptr : p.absmax.data(),
                                  doubleQuant ? p.absmaxCodes.data() : nullptr,
                                  doubleQuant ? p.absmaxScales.data() : nullptr, offset, block,
                                  rows, cols, nullptr);
    return p;
}

// W [rows, cols] decoded by the reference kernel itself (x = identity, no bias).
std::vector<float> decodedByReference(FusedWeight w)
{
    w.bias = nullptr;
    std::vector<float> eye(static_cast<std::size_t>(w.cols * w.cols), 0.0f);
    for (std::int64_t c = 0; c < w.cols; ++c)
        eye[c * w.cols + c] = 1.0f;
    std::vector<float> yt(static_cast<std::size_t>(w.cols * w.rows));
    fused_linear_ref(w, eye.data(), w.cols, yt.data(), 0, w.rows);
    std::vector<float> out(yt.size());
    for (std::int64_t r = 0; r < w.rows; ++r)
        for (std::int64_t c = 0; c < w.cols; ++c)
            out[r * w.cols + c] = yt[c * w.rows + r];
    return out;
}

std::vector<KernelPath> pathsToTest()
{
    std::vector<KernelPath> paths;
    for (KernelPath p : {KernelPath::Portable, KernelPath::Avx2, KernelPath::Avx512}) {
        if (kernel_path_supported(p))
            paths.push_back(p);
        else
            qInfo("path %s skipped: this CPU lacks its instructions", kernel_path_name(p));
    }
    return paths;
}

// Every path against the reference for m activation rows; the rows split in two ranges.
void checkPaths(const Packed &p, const std::vector<KernelPath> &paths)
{
    const FusedWeight &w = p.w;
    const auto dense = decodedByReference(w);
    for (std::int64_t m : {1, 2, 3, 4, 5, 9, 33}) {
        const auto x = qbtest::normalValues(m * w.cols, unsigned(m * 7 + w.cols));
        std::vector<float> ref(static_cast<std::size_t>(m * w.rows));
        fused_linear_ref(w, x.data(), m, ref.data(), 0, w.rows);
        for (KernelPath path : paths) {
            const FusedInput in = fused_prepare_input(w, x.data(), m, path);
            std::vector<float> y(ref.size(), std::nanf(""));
            const std::int64_t split = w.rows / 3;
            fused_linear(w, in, y.data(), split, w.rows);
            fused_linear(w, in, y.data(), 0, split);
            for (std::int64_t i = 0; i < m; ++i)
                for (std::int64_t r = 0; r < w.rows; ++r) {
                    double mag = 0.0;
                    for (std::int64_t c = 0; c < w.cols; ++c)
                        mag += std::fabs(double(x[i * w.cols + c]) * dense[r * w.cols + c]);
                    const double got = y[i * w.rows + r], want = ref[i * w.rows + r];
                    if (!(std::fabs(got - want) <= kRelTolerance * mag + kAbsTolerance))
                        QFAIL(qPrintable(QString("%1, path %2, m %3, row %4: %5 vs reference %6")
                                             .arg(QString::fromStdString(p.name))
                                             .arg(kernel_path_name(path))
                                             .arg(m)
                                             .arg(r)
                                             .arg(got, 0, 'g', 9)
                                             .arg(want, 0, 'g', 9)));
                }
            // A row's result does not depend on the rows computed with it: alone it takes the
            // AVX-512 path's loops for one activation row, batched the tiles of up to four.
            if (m == 5 || m == 9)
                for (std::int64_t i = 0; i < m; ++i) {
                    const FusedInput one
                        = fused_prepare_input(w, x.data() + i * w.cols, 1, path);
                    std::vector<float> alone(static_cast<std::size_t>(w.rows));
                    fused_linear(w, one, alone.data(), 0, w.rows);
                    for (std::int64_t r = 0; r < w.rows; ++r)
                        if (alone[r] != y[i * w.rows + r])
                            QFAIL(qPrintable(
                                QString("%1, path %2, m %3, row %4 of input %5: %6 alone, %7 "
                                        "batched")
                                    .arg(QString::fromStdString(p.name))
                                    .arg(kernel_path_name(path))
                                    .arg(m)
                                    .arg(r)
                                    .arg(i)
                                    .arg(alone[r], 0, 'g', 9)
                                    .arg(y[i * w.rows + r], 0, 'g', 9)));
                }
        }
    }
}

// The int8-activation path for m rows against its reference (tight: the same integer products,
// float sums in another order) and against the float reference (within the activation rounding's
// bound Σ_c |w_c| · |x_c − x̂_c|, each |x_c − x̂_c| ≤ d / 2 checked too).
// p's weight and w, the same weight in a rows layout (IntGroupRows, Blockwise4Rows): every path,
// the int8-activation kernels and the row decode read the same values in the same order, so they
// must give the same bits.
void checkSameBits(const Packed &p, const FusedWeight &w, const std::vector<KernelPath> &paths)
{
    const std::int64_t rows = w.rows, cols = w.cols;
    auto differs = [&](const std::vector<float> &a, const std::vector<float> &b, const char *what) {
        for (std::size_t e = 0; e < a.size(); ++e)
            if (!(a[e] == b[e])) {
                qWarning("%s, %s, output %zu: %.9g in the stored layout, %.9g in rows", p.name.c_str(),
                         what, e, double(a[e]), double(b[e]));
                return true;
            }
        return false;
    };
    for (std::int64_t m : {1, 3, 5}) {
        const auto x = qbtest::normalValues(m * cols, unsigned(m + cols));
        std::vector<float> a(static_cast<std::size_t>(m * rows)), b(a.size());
        fused_linear_ref(p.w, x.data(), m, a.data(), 0, rows);
        fused_linear_ref(w, x.data(), m, b.data(), 0, rows);
        QVERIFY(!differs(a, b, "reference"));
        for (KernelPath path : paths) {
            const FusedInput in = fused_prepare_input(w, x.data(), m, path);
            fused_linear(p.w, in, a.data(), 0, rows);
            fused_linear(w, in, b.data(), 0, rows);
            QVERIFY(!differs(a, b, kernel_path_name(path)));
        }
        if (q8_supported(p.w)) {
            const Q8Input in = q8_prepare_input(p.w, x.data(), m);
            fused_linear_q8(p.w, in, a.data(), 0, rows);
            fused_linear_q8(w, in, b.data(), 0, rows);
            QVERIFY(!differs(a, b, "int8 activations"));
            fused_linear_q8_ref(p.w, in, a.data(), 0, rows);
            fused_linear_q8_ref(w, in, b.data(), 0, rows);
            QVERIFY(!differs(a, b, "int8 activations, reference"));
        }
    }
    if (fused_decode_rows_supported(p.w)) {
        std::vector<float> a(static_cast<std::size_t>(rows * cols)), b(a.size()),
            absmax(static_cast<std::size_t>(fused_decode_rows_blocks(p.w, 1, rows)));
        fused_decode_rows(p.w, 1, rows, a.data(), absmax.data());
        fused_decode_rows(w, 1, rows, b.data(), absmax.data());
        QVERIFY(!differs(a, b, "row decode"));
    }
}

// p (double-quantized) with the second 256-block group's absmax scale doubled: a stored form
// like any other, whose blocks decode to twice the first group's values, so a kernel that takes
// a block's group wrongly is visibly wrong.
Packed withDistinctSecondScaleGroup(Packed p)
{
    p.absmaxScales.at(1) *= 2.0f;
    p.w.absmax_scales = p.absmaxScales.data();
    return p;
}

// ms: the activation row counts to run (each against the reference, alone against batched).
void checkQ8(const Packed &p, std::initializer_list<std::int64_t> ms = {1, 2, 3, 4, 5, 9})
{
    const FusedWeight &w = p.w;
    QVERIFY2(q8_supported(w), p.name.c_str());
    const auto dense = decodedByReference(w);
    // NF4 / FP4 weights move to absmax / 127 steps: by at most absmax / 254, where absmax is the
    // block's largest |w| (the codebooks end at ±1, which the block's largest element takes).
    const bool book = w.format == FusedFormat::Blockwise4;
    std::vector<double> moved(dense.size(), 0.0);
    if (book)
        for (std::int64_t b = 0; b < w.rows * w.cols / w.block_size; ++b) {
            double amax = 0.0;
            for (std::int64_t e = b * w.block_size; e < (b + 1) * w.block_size; ++e)
                amax = std::max(amax, double(std::fabs(dense[e])));
            for (std::int64_t e = b * w.block_size; e < (b + 1) * w.block_size; ++e) {
                moved[e] = std::fabs(q8_weight(w, e / w.cols, e % w.cols) - dense[e]);
                if (!(moved[e] <= amax / 254 * (1 + 1e-5)))
                    QFAIL(qPrintable(QString("%1: weight %2 moved %3 > absmax %4 / 254")
                                         .arg(QString::fromStdString(p.name)).arg(e)
                                         .arg(moved[e]).arg(amax)));
            }
        }
    for (std::int64_t m : ms) {
        auto x = qbtest::normalValues(m * w.cols, unsigned(m * 11 + w.cols));
        x[0] = 9.0f; // an outlier: its block's scale grows, the others' do not
        const Q8Input in = q8_prepare_input(w, x.data(), m);
        std::vector<float> ref(static_cast<std::size_t>(m * w.rows)), floatRef(ref.size());
        fused_linear_q8_ref(w, in, ref.data(), 0, w.rows);
        fused_linear_ref(w, x.data(), m, floatRef.data(), 0, w.rows);
        std::vector<float> y(ref.size(), std::nanf(""));
        const std::int64_t split = w.rows / 3;
        fused_linear_q8(w, in, y.data(), split, w.rows);
        fused_linear_q8(w, in, y.data(), 0, split);
        // A row's result does not depend on the rows computed with it (tiles of 4 x 2 or alone).
        for (std::int64_t i = 0; i < m; ++i) {
            const Q8Input one = q8_prepare_input(w, x.data() + i * w.cols, 1);
            std::vector<float> alone(static_cast<std::size_t>(w.rows));
            fused_linear_q8(w, one, alone.data(), 0, w.rows);
            for (std::int64_t r = 0; r < w.rows; ++r)
                if (alone[r] != y[i * w.rows + r])
                    QFAIL(qPrintable(QString("%1, m %2, row %3 of input %4: %5 alone, %6 batched")
                                         .arg(QString::fromStdString(p.name)).arg(m).arg(r).arg(i)
                                         .arg(alone[r], 0, 'g', 9).arg(y[i * w.rows + r], 0, 'g', 9)));
        }
        // The 4-bit codes decoded without GFNI and VBMI give the same codes, so the same bits.
        if (in.gfni_vbmi) {
            Q8Input noGfni = in;
            noGfni.gfni_vbmi = false;
            std::vector<float> y2(y.size(), std::nanf(""));
            fused_linear_q8(w, noGfni, y2.data(), 0, w.rows);
            for (std::size_t e = 0; e < y.size(); ++e)
                if (y2[e] != y[e])
                    QFAIL(qPrintable(QString("%1, m %2, output %3: %4 with GFNI, %5 without")
                                         .arg(QString::fromStdString(p.name)).arg(m).arg(e)
                                         .arg(y[e], 0, 'g', 9).arg(y2[e], 0, 'g', 9)));
        }
        for (std::int64_t i = 0; i < m; ++i)
            for (std::int64_t r = 0; r < w.rows; ++r) {
                double mag = 0.0, bound = 0.0;
                for (std::int64_t c = 0; c < w.cols; ++c) {
                    const double xq = q8_dequantized(in, i, c), wc = dense[r * w.cols + c];
                    mag += std::fabs(xq * wc);
                    bound += std::fabs(wc) * std::fabs(x[i * w.cols + c] - xq)
                        + std::fabs(xq) * moved[r * w.cols + c];
                }
                const double got = y[i * w.rows + r], want = ref[i * w.rows + r];
                const double exact = floatRef[i * w.rows + r];
                if (!(std::fabs(got - want) <= kRelTolerance * mag + kAbsTolerance))
                    QFAIL(qPrintable(QString("%1, m %2, row %3: %4 vs q8 reference %5")
                                         .arg(QString::fromStdString(p.name)).arg(m).arg(r)
                                         .arg(got, 0, 'g', 9).arg(want, 0, 'g', 9)));
                if (!(std::fabs(want - exact) <= bound + kRelTolerance * mag + kAbsTolerance))
                    QFAIL(qPrintable(QString("%1, m %2, row %3: q8 %4 vs float %5, bound %6")
                                         .arg(QString::fromStdString(p.name)).arg(m).arg(r)
                                         .arg(want, 0, 'g', 9).arg(exact, 0, 'g', 9)
                                         .arg(bound, 0, 'g', 9)));
            }
    }
}

} // namespace

class TestFusedLinear : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void handComputed()
    {
        // INT8 row: q = [1, -2, 3], s = 0.5, x = [1, 1, 2], bias 1 -> (1 - 2 + 6) * 0.5 + 1.
        const std::int8_t q[3] = {1, -2, 3};
        const float s = 0.5f, bias = 1.0f, x[3] = {1, 1, 2};
        const auto w = fused_weight_int8_row(q, &s, 1, 3, &bias);
        // INT4 g2 asym, one row [codes 15, 0 | 3, 4], scales [0.1, 2], zeros [5, 4]:
        // w = [1.0, -0.5, -2, 0]; x = [1, 2, 3, 4] -> 1 - 1 - 6 + 0 = -6.
        const std::uint8_t p4[2] = {0xF0, 0x34};
        const float s4[2] = {0.1f, 2.0f};
        const std::uint8_t z4[2] = {5, 4};
        const float x4[4] = {1, 2, 3, 4};
        const auto w4 = fused_weight_int_group(p4, s4, z4, nullptr, 4, 2, 1, 4, nullptr);
        for (KernelPath path : {KernelPath::Scalar, KernelPath::Portable, KernelPath::Avx2,
                                KernelPath::Avx512}) {
            if (!kernel_path_supported(path))
                continue;
            float y = 0, y4 = 0;
            fused_linear(w, fused_prepare_input(w, x, 1, path), &y, 0, 1);
            fused_linear(w4, fused_prepare_input(w4, x4, 1, path), &y4, 0, 1);
            QCOMPARE(y, 3.5f);
            QVERIFY(std::fabs(y4 + 6.0f) < 1e-6f);
        }
    }

    void preparedOrdersByHand()
    {
        // Rows of x = 0, 1, 2, ... so each reordered entry names the column it came from.
        std::vector<float> x(2 * 192);
        for (std::size_t c = 0; c < x.size(); ++c)
            x[c] = float(c % 192);
        auto col = [](const FusedInput &in, std::int64_t i, std::int64_t at) {
            return int(in.ordered[static_cast<std::size_t>(i * in.cols + at)]);
        };
        // INT3 in groups of 64 on AVX-512: quads, column 64k + 4i + s at 64k + 16s + i.
        const Packed q3 = intGroup(2, 192, 3, 64, false, false, 1);
        const FusedInput quads = fused_prepare_input(q3.w, x.data(), 2, KernelPath::Avx512);
        QCOMPARE(int(quads.order), int(FusedOrder::Quads));
        QCOMPARE(col(quads, 0, 16 * 1 + 3), 4 * 3 + 1);          // s 1, i 3
        QCOMPARE(col(quads, 1, 64 + 16 * 2 + 5), 64 + 4 * 5 + 2); // second chunk, second row
        QCOMPARE(col(quads, 0, 128 + 63), 128 + 63);             // s 3, i 15
        // On AVX2 per 32 columns: column 32k + 4i + s at 32k + 8s + i.
        const FusedInput quads8 = fused_prepare_input(q3.w, x.data(), 2, KernelPath::Avx2);
        QCOMPARE(int(quads8.order), int(FusedOrder::Quads));
        QCOMPARE(col(quads8, 1, 32 + 8 * 2 + 5), 32 + 4 * 5 + 2);
        QCOMPARE(col(quads8, 0, 160 + 8 * 3 + 7), 160 + 4 * 7 + 3);
        // INT4, 40 columns: nibbles per 32 on AVX-512 (even, then odd), per 16 on AVX2; the
        // last 8 (AVX-512) columns keep their place.
        const Packed q4 = intGroup(1, 40, 4, 0, true, false, 2);
        const FusedInput n512 = fused_prepare_input(q4.w, x.data(), 1, KernelPath::Avx512);
        QCOMPARE(int(n512.order), int(FusedOrder::Nibbles));
        QCOMPARE(col(n512, 0, 5), 10);
        QCOMPARE(col(n512, 0, 16 + 5), 11);
        QCOMPARE(col(n512, 0, 35), 35);
        const FusedInput n256 = fused_prepare_input(q4.w, x.data(), 1, KernelPath::Avx2);
        QCOMPARE(col(n256, 0, 8 + 3), 7);
        QCOMPARE(col(n256, 0, 16 + 8 + 3), 16 + 7);
        // No copy where no kernel reads one: INT3 in groups of 32 on AVX-512 (AVX2 reads them
        // as quads of 32 columns), INT8, portable, scalar.
        const Packed q3g32 = intGroup(1, 192, 3, 32, false, false, 3);
        QCOMPARE(int(fused_prepare_input(q3g32.w, x.data(), 1, KernelPath::Avx2).order),
                 int(FusedOrder::Quads));
        const Packed i8 = int8Row(1, 192, 4);
        for (const auto &[w, path] : {std::pair{q3.w, KernelPath::Scalar},
                                      {q3g32.w, KernelPath::Avx512},
                                      {i8.w, KernelPath::Avx512},
                                      {q4.w, KernelPath::Portable}}) {
            const FusedInput in = fused_prepare_input(w, x.data(), 1, path);
            QCOMPARE(int(in.order), int(FusedOrder::None));
            QVERIFY(in.ordered.empty());
        }
        // An input prepared for another weight is refused, not read in the wrong order.
        const Packed q4w = intGroup(1, 192, 4, 64, false, false, 5);
        const FusedInput for4 = fused_prepare_input(q4w.w, x.data(), 1, KernelPath::Avx512);
        float y[2];
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, fused_linear(q3.w, for4, y, 0, 1));
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, fused_linear(q4w.w, n512, y, 0, 1));
        fused_linear(q4w.w, for4, y, 0, 1); // the weight it was prepared for: accepted
    }

    void referenceDecodesAsTheDequantizeKernels()
    {
        // int8 rows
        {
            auto p = int8Row(5, 37, 1);
            std::vector<float> want(5 * 37);
            dequantize_int8_rowwise_ref(p.q8.data(), p.scales.data(), 5, 37, want.data());
            QVERIFY(decodedByReference(p.w) == want);
        }
        // int-k groups, integer zero points
        for (int bits : {2, 3, 4, 8})
            for (bool sym : {true, false}) {
                auto p = intGroup(3, 70, bits, 32, sym, false, 2);
                std::vector<float> want(3 * 70);
                dequantize_int_group_ref(p.packed.data(), p.scales.data(),
                                         sym ? nullptr : p.zerosU8.data(), 3, 70,
                                         IntGroupConfig{bits, 32, sym}, want.data());
                QVERIFY2(decodedByReference(p.w) == want, p.name.c_str());
            }
        // real zero points: (code - zeros_f) * scale, the codes from unpack_codes_ref
        {
            auto p = intGroup(3, 70, 4, 32, false, true, 3);
            const auto got = decodedByReference(p.w);
            std::vector<std::uint8_t> codes(70);
            for (int r = 0; r < 3; ++r) {
                unpack_codes_ref(p.packed.data() + r * int_group_row_bytes(4, 70), 70, 4,
                                 codes.data());
                for (int c = 0; c < 70; ++c) {
                    const int k = r * 3 + c / 32;
                    QCOMPARE(got[r * 70 + c], (float(codes[c]) - p.zerosF[k]) * p.scales[k]);
                }
            }
        }
        // NF4 / FP4, plain and double-quantized absmax, blocks spanning rows (35 * 4 vs 64)
        for (Codebook4 kind : {Codebook4::Nf4, Codebook4::Fp4})
            for (bool dq : {false, true}) {
                auto p = blockwise4(kind, 4, 35, 64, dq, 4);
                std::vector<float> absmax = p.absmax;
                if (dq) {
                    DoubleQuantAbsmax d;
                    d.codes = p.absmaxCodes;
                    d.scales = p.absmaxScales;
                    d.offset = p.w.absmax_offset;
                    dequantize_double_quant_absmax(d, absmax.data());
                }
                std::vector<float> want(4 * 35);
                dequantize_blockwise4_ref(kind, p.packed.data(), absmax.data(), 4 * 35, 64,
                                          want.data());
                QVERIFY2(decodedByReference(p.w) == want, p.name.c_str());
            }
    }

    // fused_decode_rows: any row range of every supported layout gives exactly the rows the
    // reference decodes; float zero points and rows that do not start on a block are refused.
    void fusedDecodePanelMatchesDecodeAndPack()
    {
        // Eight rows straight into a panel hold the bytes of fused_decode_rows + pack, at every
        // row offset (4-bit formats in both layouts); elsewhere (3-bit groups of 32, other
        // paths) nothing is written.
        std::vector<Packed> cases;
        for (int group : {32, 128, 0})
            cases.push_back(intGroup(19, 512, 4, group, group == 0, false, unsigned(group + 3)));
        for (Codebook4 kind : {Codebook4::Nf4, Codebook4::Fp4})
            for (bool dq : {false, true})
                cases.push_back(blockwise4(kind, 19, 256, 64, dq, unsigned(dq + 9)));
        // The same weights in the rows layouts (their buffers kept alive beside them).
        const std::size_t fourBit = cases.size();
        std::vector<CacheLineVector<std::uint8_t>> buffers;
        // 2- and 3-bit groups of 64, 128 and per channel; INT8 rows (dense layouts only).
        for (int bits : {2, 3})
            for (int group : {64, 128, 0})
                cases.push_back(intGroup(19, 512, bits, group, false, false,
                                         unsigned(bits * 10 + group)));
        cases.push_back(int8Row(19, 512, 44));
        std::vector<Packed> all = cases;
        for (std::size_t c = 0; c < fourBit; ++c) {
            const Packed &p = cases[c];
            Packed q = p;
            q.name += " rows layout";
            if (p.w.format == FusedFormat::IntGroup) {
                const bool zeros = !p.zerosU8.empty();
                const IntGroupRows l
                    = int_group_rows(4, p.w.groups_per_row(), p.w.cols, zeros);
                buffers.emplace_back(static_cast<std::size_t>(p.w.rows * l.row_bytes));
                pack_int_group_rows(l, p.packed.data(), p.scales.data(),
                                    zeros ? p.zerosU8.data() : nullptr, 4, p.w.rows, p.w.cols,
                                    buffers.back().data());
                q.w = fused_weight_int_group_rows(buffers.back().data(), l, nullptr, 4,
                                                  p.w.group, p.w.rows, p.w.cols, p.w.bias);
            } else {
                const bool dq = p.w.absmax == nullptr;
                const Blockwise4Rows l = blockwise4_rows(64, p.w.cols, dq);
                buffers.emplace_back(static_cast<std::size_t>(p.w.rows * l.row_bytes));
                pack_blockwise4_rows(l, p.packed.data(), p.w.absmax, p.w.absmax_codes, p.w.rows,
                                     p.w.cols, buffers.back().data());
                const Codebook4 kind = p.w.codebook == codebook4_values(Codebook4::Nf4)
                    ? Codebook4::Nf4
                    : Codebook4::Fp4;
                q.w = fused_weight_blockwise4_rows(kind, buffers.back().data(), l,
                                                   p.w.absmax_scales, p.w.absmax_offset, 64,
                                                   p.w.rows, p.w.cols, p.w.bias);
            }
            all.push_back(q);
        }
        const Packed other = intGroup(19, 512, 3, 32, false, false, 5); // no panel decoder
        for (KernelPath path : pathsToTest()) {
            for (const Packed &p : all) {
                const std::int64_t cols = p.w.cols;
                std::vector<float> rows(8 * cols), absmax(fused_decode_rows_blocks(p.w, 0, 8) + 1);
                for (std::int64_t offset : {0, 8, 24})
                    for (std::int64_t r0 : {0, 11}) {
                        std::vector<float> want(cols * kGemmPanel, -1.0f), got(want);
                        fused_decode_rows(p.w, r0, r0 + 8, rows.data(), absmax.data());
                        gemm_f32_pack_rows(rows.data(), 8, cols, want.data(), offset, path);
                        if (!fused_decode_panel8(p.w, r0, got.data(), offset, absmax.data(),
                                                 path)) {
                            QVERIFY(path != KernelPath::Avx512);
                            QVERIFY(std::all_of(got.begin(), got.end(),
                                                [](float v) { return v == -1.0f; }));
                            continue;
                        }
                        const std::string what = p.name + " rows " + std::to_string(r0)
                            + "+8 at " + std::to_string(offset) + ", " + kernel_path_name(path);
                        QVERIFY2(std::memcmp(got.data(), want.data(),
                                             want.size() * sizeof(float)) == 0,
                                 what.c_str());
                    }
            }
            std::vector<float> panel(512 * kGemmPanel);
            QVERIFY(!fused_decode_panel8(other.w, 0, panel.data(), 0, nullptr, path));
        }
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument,
                                 fused_decode_panel8(cases[0].w, 12, nullptr, 0, nullptr,
                                                     KernelPath::Avx512));
    }

    void fusedDecodeRowsMatchReference()
    {
        std::vector<Packed> cases;
        cases.push_back(int8Row(37, 70, 5));
        for (int bits : {2, 3, 4, 8})
            for (int group : {32, 128, 0})
                for (bool sym : {true, false})
                    cases.push_back(
                        intGroup(35, 257, bits, group, sym, false, unsigned(bits + group)));
        // Rows of whole 32-column chunks: the AVX-512 decode of 4-bit rows (NF4/FP4 below too).
        for (int group : {32, 128, 0})
            cases.push_back(intGroup(35, 512, 4, group, group == 32, false, unsigned(group + 1)));
        for (Codebook4 kind : {Codebook4::Nf4, Codebook4::Fp4})
            for (int block : {32, 64})
                for (bool dq : {false, true})
                    cases.push_back(blockwise4(kind, 70, 256, block, dq, unsigned(block + dq)));
        for (const Packed &p : cases) {
            QVERIFY2(fused_decode_rows_supported(p.w), p.name.c_str());
            const auto want = decodedByReference(p.w);
            for (auto [r0, r1] : {std::pair<std::int64_t, std::int64_t>{0, p.w.rows}, {0, 1},
                                  {3, 35}, {p.w.rows - 2, p.w.rows}}) {
                std::vector<float> got((r1 - r0) * p.w.cols, -1.0f);
                std::vector<float> absmax(fused_decode_rows_blocks(p.w, r0, r1) + 1);
                fused_decode_rows(p.w, r0, r1, got.data(), absmax.data());
                const std::string what
                    = p.name + " rows " + std::to_string(r0) + ".." + std::to_string(r1);
                QVERIFY2(std::equal(got.begin(), got.end(), want.begin() + r0 * p.w.cols),
                         what.c_str());
            }
        }
        QVERIFY(!fused_decode_rows_supported(intGroup(3, 70, 4, 32, false, true, 3).w));
        QVERIFY(!fused_decode_rows_supported(blockwise4(Codebook4::Nf4, 4, 35, 64, false, 4).w));
    }

    void int8PathsMatchReference()
    {
        const auto paths = pathsToTest();
        for (auto [rows, cols] : {std::pair{1, 16}, {7, 100}, {13, 257}, {33, 512}, {3, 1000}})
            checkPaths(int8Row(rows, cols, unsigned(rows + cols)), paths);
    }

    void intGroupPathsMatchReference()
    {
        const auto paths = pathsToTest();
        unsigned seed = 10;
        for (int bits : {2, 3, 4, 8})
            for (int group : {32, 64, 128, 0})
                // 3x384: rows of several groups in the straight 4-bit loops (each group's table
                // built ahead of it at one activation row)
                for (auto [rows, cols] : {std::pair{5, 128}, {9, 257}, {4, 1000}, {3, 384}})
                    for (int mode = 0; mode < 3; ++mode) // sym, asym, asym + zeros_f
                        checkPaths(intGroup(rows, cols, bits, group, mode == 0, mode == 2,
                                            ++seed),
                                   paths);
        // Groups of 18: segments that start inside the AVX-512 path's 16-code chunks of 2- and
        // 3-bit rows, even mid-byte (scalar up to the next chunk), and rows whose last chunk is
        // read narrow.
        for (int bits : {2, 3})
            for (auto [rows, cols] : {std::pair{3, 200}, {2, 96}})
                checkPaths(intGroup(rows, cols, bits, 18, false, false, ++seed), paths);
    }

    void intGroupRowsLayoutByHand()
    {
        // INT4 g128 asymmetric, 4096 columns: 32 scales (128 bytes), 32 zero points (bytes
        // 128-159), codes from the next 64-byte boundary (192), 2048 code bytes: 2240 a row.
        const IntGroupRows a = int_group_rows(4, 32, 4096, true);
        QCOMPARE(a.zero_offset, std::int64_t(128));
        QCOMPARE(a.code_offset, std::int64_t(192));
        QCOMPARE(a.row_bytes, std::int64_t(2240));
        // INT3 per channel, symmetric, 1000 columns: 4 bytes of scale, codes at 64, 375 code
        // bytes padded to 384.
        const IntGroupRows b = int_group_rows(3, 1, 1000, false);
        QCOMPARE(b.code_offset, std::int64_t(64));
        QCOMPARE(b.row_bytes, std::int64_t(448));
        // Row 1 of a 2 x 256 INT8 weight (groups of 128, asymmetric) lies at byte 320 (10
        // header bytes padded to 64, then 256 codes): its scales there, its zero points 8 bytes
        // on, its codes at 320 + 64.
        Packed p = intGroup(2, 256, 8, 128, false, false, 7);
        const IntGroupRows l = int_group_rows(8, 2, 256, true);
        CacheLineVector<std::uint8_t> buf(static_cast<std::size_t>(2 * l.row_bytes), 0xAA);
        pack_int_group_rows(l, p.packed.data(), p.scales.data(), p.zerosU8.data(), 8, 2, 256,
                            buf.data());
        QCOMPARE(l.row_bytes, std::int64_t(320));
        float s1;
        std::memcpy(&s1, buf.data() + 320 + 4, 4);
        QCOMPARE(s1, p.scales[3]);
        QCOMPARE(int(buf[320 + 8 + 1]), int(p.zerosU8[3]));
        QCOMPARE(int(buf[320 + 64 + 255]), int(p.packed[511]));
        QCOMPARE(int(buf[320 + 10]), 0); // padding zeroed
        const FusedWeight w = fused_weight_int_group_rows(buf.data(), l, nullptr, 8, 128, 2, 256,
                                                          nullptr);
        QCOMPARE(w.row_scales(1)[1], p.scales[3]);
        QCOMPARE(w.packed_bytes(), std::int64_t(2 * 320));
    }

    void intGroupRowsLayoutGivesTheSameBits()
    {
        // The same weight in the dense arrays and in the rows layout (checkSameBits).
        const auto paths = pathsToTest();
        unsigned seed = 700;
        for (int bits : {2, 3, 4, 8})
            for (int group : {32, 64, 128, 0})
                for (auto [rows, cols] : {std::pair{5, 128}, {4, 1000}, {3, 640}})
                    for (int mode = 0; mode < 3; ++mode) {
                        const Packed p = intGroup(rows, cols, bits, group, mode == 0, mode == 2,
                                                  ++seed);
                        const std::int64_t groups = p.w.groups_per_row();
                        const IntGroupRows l = int_group_rows(bits, groups, cols, mode != 0);
                        CacheLineVector<std::uint8_t> buf(static_cast<std::size_t>(rows * l.row_bytes));
                        pack_int_group_rows(l, p.packed.data(), p.scales.data(),
                                            mode != 0 ? p.zerosU8.data() : nullptr, bits, rows,
                                            cols, buf.data());
                        const FusedWeight w = fused_weight_int_group_rows(
                            buf.data(), l, p.w.zeros_f, bits, group, rows, cols, p.w.bias);
                        checkSameBits(p, w, paths);
                        if (QTest::currentTestFailed())
                            return;
                    }
    }

    void blockwise4RowsLayoutByHand()
    {
        // NF4 blocks of 64, double-quantized, 4096 columns: 64 absmax codes (one cache line),
        // then 2048 nibble bytes: 2112 a row, as many as the flattened arrays, no padding.
        const Blockwise4Rows a = blockwise4_rows(64, 4096, true);
        QCOMPARE(a.code_offset, std::int64_t(64));
        QCOMPARE(a.row_bytes, std::int64_t(2112));
        // Float absmax, blocks of 32, 96 columns: 12 bytes -> 64, 48 code bytes -> 64.
        const Blockwise4Rows b = blockwise4_rows(32, 96, false);
        QCOMPARE(b.code_offset, std::int64_t(64));
        QCOMPARE(b.row_bytes, std::int64_t(128));
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, blockwise4_rows(64, 96, true));
        // Row 2 of a 3 x 96 FP4 weight with float absmax (blocks of 32): at byte 256, its
        // three absmax floats there, its 48 code bytes from 256 + 64.
        Packed p = blockwise4(Codebook4::Fp4, 3, 96, 32, false, 9);
        CacheLineVector<std::uint8_t> buf(static_cast<std::size_t>(3 * b.row_bytes), 0xAA);
        pack_blockwise4_rows(b, p.packed.data(), p.absmax.data(), nullptr, 3, 96, buf.data());
        float a2;
        std::memcpy(&a2, buf.data() + 256 + 4, 4);
        QCOMPARE(a2, p.absmax[7]);
        QCOMPARE(int(buf[256 + 64 + 47]), int(p.packed[143]));
        QCOMPARE(int(buf[256 + 12]), 0); // padding zeroed
        const FusedWeight w = fused_weight_blockwise4_rows(Codebook4::Fp4, buf.data(), b, nullptr,
                                                           0.0f, 32, 3, 96, nullptr);
        QVERIFY(w.absmax_rows());
        QCOMPARE(w.absmax_index(7), std::int64_t(2 * 32 + 1)); // row 2's second float
        QCOMPARE(w.packed_bytes(), std::int64_t(3 * 128));
    }

    void blockwise4RowsLayoutGivesTheSameBits()
    {
        // checkSameBits for NF4 / FP4 with float or double-quantized
        // absmax; 13 x 1344 with blocks of 64 has 21 blocks a row, so the sixteen- and
        // sixty-four-at-a-time absmax decoders meet row ends inside their runs, and 2 x 241 · 64
        // crosses a 256-block scale group inside row 1. 70 x 320 has 5 or 10 blocks a row: the
        // short rows' gathered codes decode sixteen at a time, so a vector spans row ends.
        const auto paths = pathsToTest();
        unsigned seed = 900;
        std::vector<Packed> cases;
        for (Codebook4 kind : {Codebook4::Nf4, Codebook4::Fp4})
            for (int block : {32, 64, 128, 256})
                for (auto [rows, cols] :
                     {std::pair{5, 256}, {3, 768}, {13, 1344}, {70, 128}, {70, 320}})
                    for (bool dq : {false, true})
                        if (cols % block == 0)
                            cases.push_back(blockwise4(kind, rows, cols, block, dq, ++seed));
        cases.push_back(withDistinctSecondScaleGroup(
            blockwise4(Codebook4::Nf4, 2, 241 * 64, 64, true, ++seed)));
        for (const Packed &p : cases) {
            const std::int64_t rows = p.w.rows, cols = p.w.cols;
            const bool dq = p.w.absmax == nullptr;
            const Blockwise4Rows l = blockwise4_rows(p.w.block_size, cols, dq);
            CacheLineVector<std::uint8_t> buf(static_cast<std::size_t>(rows * l.row_bytes));
            pack_blockwise4_rows(l, p.packed.data(), p.w.absmax, p.w.absmax_codes, rows, cols,
                                 buf.data());
            const Codebook4 kind = p.w.codebook == codebook4_values(Codebook4::Nf4)
                ? Codebook4::Nf4
                : Codebook4::Fp4;
            const FusedWeight w = fused_weight_blockwise4_rows(
                kind, buf.data(), l, p.w.absmax_scales, p.w.absmax_offset, p.w.block_size, rows,
                cols, p.w.bias);
            QVERIFY(w.absmax_rows());
            checkSameBits(p, w, paths);
            if (QTest::currentTestFailed())
                return;
        }
    }

    void blockwise4PathsMatchReference()
    {
        const auto paths = pathsToTest();
        unsigned seed = 100;
        for (Codebook4 kind : {Codebook4::Nf4, Codebook4::Fp4})
            for (int block : {32, 64, 128, 256})
                // 13 x 1344: 21-42 blocks a row, whose double-quantized absmax the AVX-512 path
                // decodes sixteen at a time, some runs across a 256-block scale group.
                for (auto [rows, cols] :
                     {std::pair{5, 128}, {7, 257}, {6, 96}, {3, 1000}, {13, 1344}})
                    for (bool dq : {false, true})
                        checkPaths(blockwise4(kind, rows, cols, block, dq, ++seed), paths);
        // 100 rows (one call takes 67): the AVX-512 path decodes double-quantized absmax for 64
        // rows at a time.
        checkPaths(blockwise4(Codebook4::Nf4, 100, 128, 64, true, ++seed), paths);
        // 241 blocks of 32 a row: row 1's first sixteen blocks are 241 .. 256, so only the last
        // lane of that run takes the next 256-block scale group (made twice the others' so that
        // taking the wrong group shows).
        checkPaths(withDistinctSecondScaleGroup(
                       blockwise4(Codebook4::Nf4, 2, 241 * 32, 32, true, ++seed)),
                   paths);
    }

    void streamSumMatchesDouble()
    {
        const auto v = qbtest::normalValues(100003, 5);
        // Lengths with tails in each half of a two-stream read: none, short of one step, short
        // of one vector, an odd element.
        for (std::int64_t n : {100003, 1, 2, 31, 33, 64, 65, 97, 130, 1027}) {
            double want = 0.0;
            for (std::int64_t i = 0; i < n; ++i)
                want += v[static_cast<std::size_t>(i)];
            for (KernelPath path : {KernelPath::Portable, KernelPath::Avx2, KernelPath::Avx512})
                if (kernel_path_supported(path))
                    for (int streams : {1, 2})
                        QVERIFY2(std::fabs(stream_sum(v.data(), n, path, streams) - want) < 1e-2,
                                 qPrintable(QStringLiteral("n %1, path %2, %3 streams")
                                                .arg(n)
                                                .arg(kernel_path_name(path))
                                                .arg(streams)));
        }
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument,
                                 stream_sum(v.data(), 8, KernelPath::Portable, 3));
    }

    void int8ActivationsHandComputed()
    {
        // x = 1 everywhere: d = 1/127, q = 127, x̂ = 1. INT8 row codes (c mod 5) - 2 over 64
        // columns sum to -2 (twelve whole cycles sum to 0, then -2 - 1 + 0 + 1); scale 0.5,
        // bias 1 -> 0.5 · -2 + 1 = 0.
        std::vector<std::int8_t> q(64);
        for (int c = 0; c < 64; ++c)
            q[c] = static_cast<std::int8_t>(c % 5 - 2);
        const float s = 0.5f, bias = 1.0f;
        const auto w = fused_weight_int8_row(q.data(), &s, 1, 64, &bias);
        const std::vector<float> x(64, 1.0f);
        const Q8Input in = q8_prepare_input(w, x.data(), 1);
        QCOMPARE(int(in.q[0]), 127);
        float y = 5.0f, yr = 5.0f;
        fused_linear_q8(w, in, &y, 0, 1);
        fused_linear_q8_ref(w, in, &yr, 0, 1);
        QVERIFY(std::fabs(y) < 1e-5f);
        QVERIFY(std::fabs(yr) < 1e-5f);
        // INT4 per channel, sym (zero 8), scale 0.25; codes 8 + (c mod 3) -> weights
        // 0.25 · (c mod 3). x is 0 but for runs of 32 columns set to v (every d = v / 127,
        // q = 127); both paths must give `want`.
        auto int4Case = [](int cols, std::vector<std::pair<int, float>> runs, float want) {
            std::vector<std::uint8_t> packed(static_cast<std::size_t>(cols / 2));
            for (int c = 0; c < cols; c += 2)
                packed[c / 2] = static_cast<std::uint8_t>(((8 + c % 3) << 4) | (8 + (c + 1) % 3));
            const float s4 = 0.25f;
            const auto w4 = fused_weight_int_group(packed.data(), &s4, nullptr, nullptr, 4, 0, 1,
                                                   cols, nullptr);
            std::vector<float> x4(static_cast<std::size_t>(cols), 0.0f);
            for (auto [first, v] : runs)
                std::fill_n(x4.begin() + first, 32, v);
            const Q8Input in4 = q8_prepare_input(w4, x4.data(), 1);
            float y4 = 0, y4r = 0;
            fused_linear_q8(w4, in4, &y4, 0, 1);
            fused_linear_q8_ref(w4, in4, &y4r, 0, 1);
            QVERIFY2(std::fabs(y4 - want) < 1e-4f, qPrintable(QString::number(y4)));
            QVERIFY(std::fabs(y4r - want) < 1e-4f);
        };
        // 64 columns (one lone chunk), x_c = 1 for c < 32: 0.25 · (0+1+2)·10 + 0.25 · (0+1) = 7.75.
        int4Case(64, {{0, 1.0f}}, 7.75f);
        // 192 columns (a 128-column superchunk, then a lone chunk), also x_c = 2 for 96 <= c < 128
        // and 3 for 160 <= c < 192: 7.75 + 2 · 0.25 · 31 + 3 · 0.25 · 33 = 48 (columns 96.. start
        // a cycle at c mod 3 = 0: ten cycles and 0 + 1; columns 160.. at 1: ten cycles and 1 + 2).
        int4Case(192, {{0, 1.0f}, {96, 2.0f}, {160, 3.0f}}, 48.0f);
    }

    void int8ActivationRounding()
    {
        // Per block of 32: d = absmax / 127, |x - d q| <= d / 2, the largest |q| is 127.
        const auto p = intGroup(2, 192, 4, 64, false, false, 41);
        auto x = qbtest::normalValues(3 * 192, 42);
        x[5] = -40.0f;
        for (const Packed *pp : {&p}) {
            const Q8Input in = q8_prepare_input(pp->w, x.data(), 3);
            for (std::int64_t i = 0; i < 3; ++i)
                for (std::int64_t c = 0; c < 192; ++c) {
                    const double err = std::fabs(x[i * 192 + c] - q8_dequantized(in, i, c));
                    QVERIFY(err <= 40.0 / 127 / 2 + 1e-6);
                }
            // column 5 is odd: kernel position 2 of the first superchunk (the odd columns of
            // its first 64 come first); block 0 (columns 0-31) holds it, with |q| = 127
            QCOMPARE(in.d[0], 40.0f / 127.0f);
            QCOMPARE(int(in.q[2]), -127);
        }
    }

    // Which 32 values share a scale and where each code goes, by hand. Blocks are 32
    // consecutive columns. Byte formats keep natural order; 4-bit formats store each 128 columns
    // as the odd columns of their first and second 64, then the even columns of both, and a
    // last lone 64 as its odd columns, then its even ones.
    void int8ActivationBlocksAndOrderByHand()
    {
        const auto p = int8Row(1, 64, 43);
        std::vector<float> x(64, 1.0f);
        x[0] = 127.0f;   // block 0: d = 1
        x[32] = -63.5f;  // block 1: d = 0.5
        for (bool simd : {true, false}) {
            const Q8Input in = simd ? q8_prepare_input(p.w, x.data(), 1)
                                    : q8_prepare_input_ref(p.w, x.data(), 1);
            QCOMPARE(in.d[0], 1.0f);
            QCOMPARE(in.d[1], 0.5f);
            for (int c = 0; c < 64; ++c) {
                const int expected = c == 0 ? 127 : c == 32 ? -127 : c < 32 ? 1 : 2;
                QCOMPARE(int(in.q[c]), expected);
                QCOMPARE(q8_dequantized(in, 0, c), x[c]);
            }
        }
        // 192 4-bit columns, one marker a block (the rest 0, so each marker's q is ±127 and its
        // block's d = |marker| / 127): column -> kernel position
        //   5 (odd, first 64)     -> 2          40 (even, first 64)  -> 64 + 20 = 84
        //   70 (even, second 64)  -> 64+32+3=99  127 (odd, second 64) -> 32 + 31 = 63
        //   131 (lone chunk, odd) -> 128 + 1    190 (lone, even)     -> 128 + 32 + 31 = 191
        const std::pair<int, float> marks[6] = {{5, 127.0f},   {40, 63.5f},  {70, -254.0f},
                                                {127, 31.75f}, {131, 508.0f}, {190, -1016.0f}};
        const int positions[6] = {2, 84, 99, 63, 129, 191};
        const auto i4 = intGroup(1, 192, 4, 64, false, false, 44);
        const auto nf4 = blockwise4(Codebook4::Nf4, 1, 192, 64, false, 45);
        std::vector<float> x4(192, 0.0f);
        for (auto [c, v] : marks)
            x4[c] = v;
        for (const Packed *pp : {&i4, &nf4})
            for (bool simd : {true, false}) {
                const Q8Input in = simd ? q8_prepare_input(pp->w, x4.data(), 1)
                                        : q8_prepare_input_ref(pp->w, x4.data(), 1);
                std::vector<int> want(192, 0);
                for (int k = 0; k < 6; ++k) {
                    want[positions[k]] = marks[k].second > 0 ? 127 : -127;
                    QCOMPARE(in.d[k], std::fabs(marks[k].second) / 127.0f);
                }
                for (int e = 0; e < 192; ++e)
                    QCOMPARE(int(in.q[e]), want[e]);
                // the kernels' 64-byte loads of codes and lane values start on cache lines
                QCOMPARE(reinterpret_cast<std::uintptr_t>(in.q.data()) % 64, std::uintptr_t(0));
                const void *lanes = pp == &i4 ? static_cast<const void *>(in.d_lanes.data())
                                              : static_cast<const void *>(in.neg_lanes.data());
                QCOMPARE(reinterpret_cast<std::uintptr_t>(lanes) % 64, std::uintptr_t(0));
                for (int c = 0; c < 192; ++c)
                    QCOMPARE(q8_dequantized(in, 0, c), x4[c]);
                if (pp == &i4) {
                    // lane l of the superchunk: columns 8l .. 8l + 7, block l / 4; of the lone
                    // chunk: odd (l < 8) or even columns of 128 + 8 (l mod 8) .., block 4 + l mod 8 / 4
                    for (int l = 0; l < 16; ++l) {
                        QCOMPARE(in.d_lanes[l], in.d[l / 4]);
                        QCOMPARE(in.d_lanes[16 + l], in.d[4 + l % 8 / 4]);
                    }
                } else {
                    // -128 · the lane's codes: superchunk lanes 0 (positions 0-3, 64-67: col 5),
                    // 5 (84: col 40), 8 (99: col 70), 15 (63: col 127); lone-chunk lanes 0 (129)
                    // and 15 (191)
                    CacheLineVector<std::int32_t> neg(32, 0);
                    neg[0] = -128 * 127;
                    neg[5] = -128 * 127;
                    neg[8] = 128 * 127;
                    neg[15] = -128 * 127;
                    neg[16] = -128 * 127;
                    neg[31] = 128 * 127;
                    QVERIFY(in.neg_lanes == neg);
                }
            }
    }

    void int8ActivationPathsMatchReference()
    {
        if (!q8_vnni_supported())
            qInfo("AVX-512 VNNI absent: fused_linear_q8 runs its reference");
        for (auto [rows, cols] : {std::pair{5, 64}, {7, 192}, {3, 640}})
            checkQ8(int8Row(rows, cols, unsigned(rows + cols)));
        unsigned seed = 300;
        for (int bits : {4, 8})
            for (int group : {32, 64, 128, 0})
                for (auto [rows, cols] : {std::pair{5, 128}, {3, 640}})
                    for (int mode = 0; mode < 3; ++mode)
                        if (group == 0 || cols % group == 0)
                            checkQ8(intGroup(rows, cols, bits, group, mode == 0, mode == 2,
                                             ++seed));
        // 4-bit groups of 192 (a superchunk's halves in two groups, then a lone last chunk) and
        // per channel with a lone last chunk
        checkQ8(intGroup(5, 576, 4, 192, false, true, ++seed));
        checkQ8(intGroup(5, 192, 4, 0, false, false, ++seed));
        // Prefill: 70 activation rows against 131 weight rows run in blocks of 64 x 64 (two
        // blocks each way, an odd last weight row, activation rows past the last tile of four).
        checkQ8(int8Row(131, 128, ++seed), {70});
        checkQ8(intGroup(131, 256, 4, 128, false, true, ++seed), {70});
        checkQ8(intGroup(131, 128, 8, 64, false, false, ++seed), {70});
        checkQ8(blockwise4(Codebook4::Nf4, 131, 256, 64, true, ++seed), {70});
        checkQ8(blockwise4(Codebook4::Fp4, 131, 256, 128, false, ++seed), {70});
        for (Codebook4 kind : {Codebook4::Nf4, Codebook4::Fp4})
            for (int block : {64, 128, 256})
                for (bool dq : {false, true})
                    // 13 x 1344 (21 blocks of 64 a row): the block scales are decoded sixteen
                    // at a time, some runs across a boundary of the 256-block scale groups.
                    for (auto [rows, cols] : {std::pair{5, 256}, {3, 768}, {13, 1344}})
                        if (cols % block == 0)
                            checkQ8(blockwise4(kind, rows, cols, block, dq, ++seed));
        // INT short rows at one activation row: eight weight rows at a time, then pairs, then
        // one. 27 rows run as 9 + 18 and as 27, so rows meet in different blocks of eight and
        // some run in a pair or alone in one pass and in a block in the other.
        checkQ8(int8Row(27, 256, ++seed), {1});
        for (int bits : {4, 8})
            for (int group : {32, 64, 128, 0})
                checkQ8(intGroup(27, 256, bits, group, false, true, ++seed), {1});
        // Short rows at one activation row: their block scales decoded 64 blocks' worth of rows
        // at a time (16 and 4 rows here), the last batch of rows short and odd.
        checkQ8(blockwise4(Codebook4::Nf4, 37, 256, 64, true, ++seed), {1});
        checkQ8(blockwise4(Codebook4::Nf4, 11, 768, 64, true, ++seed), {1});
        // Blocks of 64 there run four rows, then two, each step making its lane scales from
        // the row's absmax (39 rows: 13 + 26 and 39, so rows meet in different fours, in pairs
        // and alone): float32 absmax read where it lies, FP4, a lone last 64 columns (320), and
        // blocks of 128 (the products made per pair of rows instead).
        checkQ8(blockwise4(Codebook4::Nf4, 39, 256, 64, false, ++seed), {1});
        checkQ8(blockwise4(Codebook4::Fp4, 39, 256, 64, true, ++seed), {1});
        checkQ8(blockwise4(Codebook4::Nf4, 39, 320, 64, true, ++seed), {1});
        checkQ8(blockwise4(Codebook4::Nf4, 39, 320, 64, false, ++seed), {1});
        checkQ8(blockwise4(Codebook4::Nf4, 39, 256, 128, true, ++seed), {1});
        // 241 blocks of 64 a row: only the last lane of row 1's first sixteen block scales is in
        // the next 256-block group.
        checkQ8(withDistinctSecondScaleGroup(
            blockwise4(Codebook4::Nf4, 2, 241 * 64, 64, true, ++seed)));
        // unsupported: 3 bits, a column count that is not a multiple of 64, NF4 blocks of 32 or
        // blocks that span two rows
        QVERIFY(!q8_supported(intGroup(2, 128, 3, 32, false, false, 1).w));
        QVERIFY(!q8_supported(int8Row(2, 100, 1).w));
        QVERIFY(!q8_supported(blockwise4(Codebook4::Nf4, 2, 128, 32, false, 1).w));
        QVERIFY(!q8_supported(blockwise4(Codebook4::Nf4, 2, 192, 128, false, 1).w));
    }

    // The AVX-512 activation rounding gives the plain C++ one's bytes: codes, scales, group sums
    // and lane offsets, in natural and nibble order, with a zero block, an outlier and values on
    // rounding ties (x = (k + 0.5) · d).
    void int8ActivationPrepareMatchesReference()
    {
        const auto i8 = int8Row(3, 192, 61);
        const auto i4 = intGroup(3, 192, 4, 64, false, false, 62);
        const auto g32 = intGroup(3, 192, 8, 32, false, false, 63);
        const auto nf4 = blockwise4(Codebook4::Nf4, 3, 192, 64, true, 64);
        for (const Packed *p : {&i8, &i4, &g32, &nf4})
            for (std::int64_t m : {1, 3, 7}) {
                auto x = qbtest::normalValues(m * 192, unsigned(m + 70));
                std::fill_n(x.begin() + 64, 64, 0.0f); // a whole zero chunk
                x[5] = 50.0f;
                // columns 128..191: values on ties (d = 1 in both of their blocks, 128-159 and
                // 160-191)
                for (int k = 0; k < 64; ++k)
                    x[128 + k] = static_cast<float>(k % 32) - 16 + 0.5f;
                x[159] = 127.0f;
                x[191] = -127.0f;
                const Q8Input fast = q8_prepare_input(p->w, x.data(), m);
                const Q8Input ref = q8_prepare_input_ref(p->w, x.data(), m);
                QVERIFY2(fast.q == ref.q, p->name.c_str());
                QVERIFY2(fast.d == ref.d, p->name.c_str());
                QVERIFY2(fast.group_sum == ref.group_sum, p->name.c_str());
                QVERIFY2(fast.neg_lanes == ref.neg_lanes, p->name.c_str());
                QVERIFY2(fast.d_lanes == ref.d_lanes, p->name.c_str());
                QVERIFY2(fast.d_book == ref.d_book, p->name.c_str());
            }
    }

    void int8CodebookHandComputed()
    {
        // round(127 · NF4 value) of the published table (QLoRA, appendix E): -1, -0.6962,
        // -0.5251, -0.3949, -0.2844, -0.1848, -0.0911, 0, 0.0796, 0.1609, 0.2461, 0.3379,
        // 0.4407, 0.5626, 0.7230, 1.
        const auto p = blockwise4(Codebook4::Nf4, 1, 64, 64, false, 5);
        const std::array<std::int8_t, 16> want{-127, -88, -67, -50, -36, -23, -12, 0,
                                               10,   20,  31,  43,  56,  71,  92,  127};
        QVERIFY(q8_codebook(p.w) == want);
        // One block, x = 1 everywhere (q = 127, d = 1/127): y = absmax / 127 · Σ book8[code].
        std::vector<std::uint8_t> packed(32, 0xF8); // codes 15, 8 repeated: book8 127, 10
        const float absmax = 2.54f;
        const auto w = fused_weight_blockwise4(Codebook4::Nf4, packed.data(), &absmax, nullptr,
                                               nullptr, 0.0f, 64, 1, 64, nullptr);
        const std::vector<float> x(64, 1.0f);
        const Q8Input in = q8_prepare_input(w, x.data(), 1);
        float y = 0, yr = 0;
        fused_linear_q8(w, in, &y, 0, 1);
        fused_linear_q8_ref(w, in, &yr, 0, 1);
        const double want1 = 2.54 / 127 * 32 * (127 + 10); // = 87.68
        QVERIFY2(std::fabs(y - want1) < 1e-4, qPrintable(QString::number(y)));
        QVERIFY(std::fabs(yr - want1) < 1e-4);
    }

    void unknownPathName()
    {
        KernelPath p = KernelPath::Scalar;
        QVERIFY(parse_kernel_path("avx512", &p));
        QVERIFY(p == KernelPath::Avx512);
        QVERIFY(!parse_kernel_path("sse9", &p));
        QVERIFY(kernel_path_supported(best_kernel_path()));
    }
};

QTEST_APPLESS_MAIN(TestFusedLinear)
#include "tst_fused_linear.moc"
