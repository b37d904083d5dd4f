// Quantized LinearOps, GPTQ, AWQ, model-level quantization and quantized checkpoints, checked
// against independent references: the kernels' scalar *_ref functions and plain loops written
// here (never the code's own output). Torch work happens in quant_probe.cpp.
#include "kernels/double_quant.h"
#include "kernels/fp8_e4m3.h"
#include "kernels/int8_rowwise.h"
#include "kernels/int_group.h"
#include "kernels/nf4.h"
#include "quant_probe.h"
#include "support/test_support.h"

#include <QtTest>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>

using qbprobe::Mat;
namespace k = qb::kernels;

namespace {

Mat gaussian(size_t n, float stddev, unsigned seed)
{
    std::mt19937 rng(seed);
    std::normal_distribution<float> d(0.0f, stddev);
    Mat m(n);
    for (auto &v : m)
        v = d(rng);
    return m;
}

// y = x w^T in float64: x [t, in], w [out, in].
std::vector<double> matmulT(const Mat &x, const Mat &w, int64_t t, int64_t in, int64_t out)
{
    std::vector<double> y(t * out, 0.0);
    for (int64_t i = 0; i < t; ++i)
        for (int64_t o = 0; o < out; ++o) {
            double s = 0.0;
            for (int64_t j = 0; j < in; ++j)
                s += static_cast<double>(x[i * in + j]) * w[o * in + j];
            y[i * out + o] = s;
        }
    return y;
}

// max |a - b| / max |b|
double relMaxDiff(const Mat &a, const std::vector<double> &b)
{
    double num = 0.0, den = 1e-30;
    for (size_t i = 0; i < b.size(); ++i) {
        num = std::max(num, std::fabs(a[i] - b[i]));
        den = std::max(den, std::fabs(b[i]));
    }
    return num / den;
}

// ||X W^T - X Q^T||_F^2
double outputError(const Mat &x, const Mat &w, const Mat &q, int64_t t, int64_t in, int64_t out)
{
    const auto y = matmulT(x, w, t, in, out), yq = matmulT(x, q, t, in, out);
    double e = 0.0;
    for (size_t i = 0; i < y.size(); ++i)
        e += (y[i] - yq[i]) * (y[i] - yq[i]);
    return e;
}

Mat intGroupRef(const Mat &w, int64_t out, int64_t in, k::IntGroupConfig cfg)
{
    const int64_t g = k::int_group_groups_per_row(cfg, in);
    std::vector<uint8_t> packed(out * k::int_group_row_bytes(cfg.bits, in)), zeros(out * g);
    Mat scales(out * g), deq(out * in);
    k::quantize_int_group_ref(w.data(), out, in, cfg, packed.data(), scales.data(), zeros.data());
    k::dequantize_int_group_ref(packed.data(), scales.data(), zeros.data(), out, in, cfg,
                                deq.data());
    return deq;
}

// Inputs whose channels are strongly correlated (AR(1) along the channel axis), as real layer
// inputs are; GPTQ exploits exactly this.
Mat correlatedInputs(int64_t t, int64_t in, unsigned seed)
{
    Mat z = gaussian(t * in, 1.0f, seed), x(t * in);
    for (int64_t i = 0; i < t; ++i) {
        float prev = 0.0f;
        for (int64_t j = 0; j < in; ++j) {
            prev = 0.9f * prev + z[i * in + j];
            x[i * in + j] = prev * (1.0f + 0.5f * static_cast<float>(j % 7));
        }
    }
    return x;
}

std::string spec(const char *json) { return json; }

// Symmetric per-token activation quantization written out: each row of x [t, in] to
// round(x / s) * s, s = max |row| / (2^(bits-1) - 1), halves to even as std::nearbyint does.
Mat actQuantRef(const Mat &x, int64_t t, int64_t in, int bits)
{
    const double q = (1 << (bits - 1)) - 1;
    Mat out(x.size());
    for (int64_t i = 0; i < t; ++i) {
        float absmax = 0;
        for (int64_t j = 0; j < in; ++j)
            absmax = std::max(absmax, std::fabs(x[i * in + j]));
        const float s = static_cast<float>(absmax / q);
        for (int64_t j = 0; j < in; ++j)
            out[i * in + j] = s > 0 ? std::nearbyint(x[i * in + j] / s) * s : 0.0f;
    }
    return out;
}

bool throwsMentioning(const std::function<void()> &f, const char *what)
{
    try {
        f();
    } catch (const std::exception &e) {
        return std::string(e.what()).find(what) != std::string::npos;
    }
    return false;
}

} // namespace

class TestQuant : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    // A dense linear's one-row inputs take BLAS's matrix-vector product (faster than GEMM with
    // one row): the same values as the reference product and the same shapes as at::linear gives,
    // with and without bias, for [in], [1, in] and [1, 1, in]; several rows keep at::linear.
    void denseOneRowMatchesReference()
    {
        const int64_t out = 24, in = 40;
        const Mat w = gaussian(out * in, 0.2f, 7), b = gaussian(out, 0.5f, 8);
        const Mat x3 = gaussian(3 * in, 1.0f, 9);
        for (const Mat &bias : {Mat{}, b}) {
            std::vector<double> want3 = matmulT(x3, w, 3, in, out);
            if (!bias.empty())
                for (size_t i = 0; i < want3.size(); ++i)
                    want3[i] += bias[i % out];
            const auto many = qbprobe::denseForward(w, out, in, bias, x3, {3, in});
            QCOMPARE(many.shape, (std::vector<int64_t>{3, out}));
            QVERIFY(relMaxDiff(many.y, want3) < 1e-5);
            for (const auto &shape : {std::vector<int64_t>{in}, {1, in}, {1, 1, in}}) {
                const Mat x1(x3.begin() + in, x3.begin() + 2 * in); // the second row
                const auto one = qbprobe::denseForward(w, out, in, bias, x1, shape);
                auto wantShape = shape;
                wantShape.back() = out;
                QCOMPARE(one.shape, wantShape);
                const std::vector<double> want(want3.begin() + out, want3.begin() + 2 * out);
                QVERIFY(relMaxDiff(one.y, want) < 1e-5);
            }
        }
    }

    void int8RowForwardMatchesReference()
    {
        const int64_t out = 16, in = 40, t = 5;
        const Mat w = gaussian(out * in, 0.2f, 1), x = gaussian(t * in, 1.0f, 2);
        Mat deq(out * in), scale(out);
        std::vector<int8_t> q(out * in);
        k::quantize_int8_rowwise_ref(w.data(), out, in, q.data(), scale.data());
        k::dequantize_int8_rowwise_ref(q.data(), scale.data(), out, in, deq.data());
        const auto r = qbprobe::runOp(spec("{\"method\": \"int8\"}"), w, out, in, x, t);
        QCOMPARE(r.dense, deq);
        QVERIFY(relMaxDiff(r.y, matmulT(x, deq, t, in, out)) < 1e-5);
        QCOMPARE(r.weightBytes, out * in + out * 4);
    }

    void nf4AndFp4MatchReferenceAndByteCounts()
    {
        const int64_t out = 256, in = 256, t = 3;
        const Mat w = gaussian(out * in, 0.05f, 3), x = gaussian(t * in, 1.0f, 4);
        const int64_t n = out * in;
        std::vector<uint8_t> packed(n / 2);
        Mat absmax(n / 64), deq(n);
        k::quantize_nf4_ref(w.data(), n, 64, packed.data(), absmax.data());
        k::dequantize_nf4_ref(packed.data(), absmax.data(), n, 64, deq.data());
        auto r
            = qbprobe::runOp(spec("{\"method\": \"nf4\", \"block_size\": 64}"), w, out, in, x, t);
        QCOMPARE(r.kind, std::string("nf4-b64"));
        QCOMPARE(r.dense, deq);
        QVERIFY(relMaxDiff(r.y, matmulT(x, deq, t, in, out)) < 1e-5);
        QCOMPARE(r.weightBytes, int64_t(32768 + 1024 * 4)); // 4.5 bits per parameter
        QCOMPARE(8.0 * r.weightBytes / n, 4.5);

        // Double quantization: the absmax values go through the 8-bit dynamic map.
        const auto dq = k::double_quantize_absmax_ref(absmax.data(), n / 64, 256);
        Mat absmax2(n / 64), deq2(n);
        k::dequantize_double_quant_absmax(dq, absmax2.data());
        k::dequantize_nf4_ref(packed.data(), absmax2.data(), n, 64, deq2.data());
        r = qbprobe::runOp(
            spec("{\"method\": \"nf4\", \"block_size\": 64, \"double_quant\": true}"), w, out, in,
            x, t);
        QCOMPARE(r.kind, std::string("nf4-dq-b64"));
        QCOMPARE(r.dense, deq2);
        // codes + 1024 absmax codes + 4 second-level scales + 1 offset
        QCOMPARE(r.weightBytes, int64_t(32768 + 1024 + 4 * 4 + 4));

        Mat absmax3(n / 128), deq3(n);
        k::quantize_fp4_ref(w.data(), n, 128, packed.data(), absmax3.data());
        k::dequantize_fp4_ref(packed.data(), absmax3.data(), n, 128, deq3.data());
        r = qbprobe::runOp(spec("{\"method\": \"fp4\", \"block_size\": 128}"), w, out, in, x, t);
        QCOMPARE(r.dense, deq3);
        QCOMPARE(r.weightBytes, int64_t(32768 + 512 * 4));
    }

    void nf4WideRowsMatchReference_data()
    {
        QTest::addColumn<bool>("doubleQuant");
        QTest::newRow("absmax") << false;
        QTest::newRow("double-quantized") << true;
    }

    void nf4WideRowsMatchReference()
    {
        // Rows of 4096 columns in blocks of 64 (the kernels' rows layout, which for these shapes
        // needs no padding): the same weights, outputs and bytes as the flattened reference, and
        // tensors() in the flattened form rebuild the same op.
        QFETCH(bool, doubleQuant);
        const int64_t out = 6, in = 4096, t = 3, n = out * in, blocks = n / 64;
        const Mat w = gaussian(n, 0.05f, 11), x = gaussian(t * in, 1.0f, 12);
        std::vector<uint8_t> packed(n / 2);
        Mat absmax(blocks), deq(n);
        k::quantize_nf4_ref(w.data(), n, 64, packed.data(), absmax.data());
        if (doubleQuant)
            k::dequantize_double_quant_absmax(k::double_quantize_absmax_ref(absmax.data(), blocks, 256),
                                              absmax.data());
        k::dequantize_nf4_ref(packed.data(), absmax.data(), n, 64, deq.data());
        const auto r = qbprobe::runOp(
            std::string("{\"method\": \"nf4\", \"block_size\": 64, \"double_quant\": ")
                + (doubleQuant ? "true}" : "false}"),
            w, out, in, x, t);
        QCOMPARE(r.dense, deq);
        QVERIFY(relMaxDiff(r.y, matmulT(x, deq, t, in, out)) < 1e-5);
        // codes + one absmax code (or float) per block (+ 2 second-level scales and the offset)
        QCOMPARE(r.weightBytes, doubleQuant ? n / 2 + blocks + 2 * 4 + 4 : n / 2 + blocks * 4);
        QVERIFY(r.tensorsContiguous);
        QCOMPARE(r.reloadedY, r.y);
    }

    void intGroupMatchesReference_data()
    {
        QTest::addColumn<int>("bits");
        QTest::addColumn<int>("group");
        QTest::addColumn<bool>("sym");
        QTest::addColumn<int>("in");
        // rowBytes: a row in memory where the kernels' rows layout pays (padding <= 3%), by hand:
        // scales (+ zero points) padded to 64 bytes, then the codes padded to 64; 0: dense.
        QTest::addColumn<int>("rowBytes");
        QTest::newRow("int4-g128-asym") << 4 << 128 << false << 256 << 0;
        QTest::newRow("int3-g64-sym") << 3 << 64 << true << 256 << 0;
        QTest::newRow("int2-g32-asym") << 2 << 32 << false << 256 << 0;
        QTest::newRow("int8-pc-sym") << 8 << 0 << true << 256 << 0;
        // 128 + 32 header bytes -> 192, 2048 codes: 2240 against 2208 dense (1.4%)
        QTest::newRow("int4-g128-asym 4096") << 4 << 128 << false << 4096 << 2240;
        // 4 -> 64, 4096 codes: 4160 against 4100 (1.5%)
        QTest::newRow("int8-pc-sym 4096") << 8 << 0 << true << 4096 << 4160;
        // 64 + 16 -> 128, 1024 codes: 1152 against 1104 (4.3%): dense
        QTest::newRow("int4-g128-asym 2048") << 4 << 128 << false << 2048 << 0;
    }

    void intGroupMatchesReference()
    {
        QFETCH(int, bits);
        QFETCH(int, group);
        QFETCH(bool, sym);
        QFETCH(int, in);
        QFETCH(int, rowBytes);
        const int64_t out = 24, t = 4;
        const Mat w = gaussian(out * in, 0.1f, 5), x = gaussian(t * in, 1.0f, 6);
        const Mat deq = intGroupRef(w, out, in, {bits, group, sym});
        const std::string s = "{\"method\": \"int\", \"bits\": " + std::to_string(bits)
            + ", \"group_size\": " + std::to_string(group)
            + ", \"symmetric\": " + (sym ? "true" : "false") + "}";
        const auto r = qbprobe::runOp(s, w, out, in, x, t);
        QCOMPARE(r.dense, deq);
        QVERIFY(relMaxDiff(r.y, matmulT(x, deq, t, in, out)) < 1e-5);
        const int64_t groups = group == 0 ? 1 : in / group;
        QCOMPARE(r.weightBytes, rowBytes ? out * rowBytes
                                         : out * (in * bits / 8) + out * groups * 4
                                               + (sym ? 0 : out * groups));
        // tensors() gives the dense stored form in either layout, which rebuilds the same op.
        QVERIFY(r.tensorsContiguous);
        QCOMPARE(r.reloadedY, r.y);
    }

    void perTensorIntMatchesHandFormula()
    {
        // One scale for the whole matrix: symmetric s = max |w| / 7, code round(w / s); asymmetric
        // lo = min(min w, 0), hi = max(max w, 0), s = (hi - lo) / 15, zero = round(-lo / s).
        const int64_t out = 6, in = 40, t = 3;
        Mat w = gaussian(out * in, 0.1f, 21);
        w[17] = 0.9f; // one large weight sets the range of every row
        const Mat x = gaussian(t * in, 1.0f, 22);
        double lo = 0, hi = 0;
        for (float v : w) {
            lo = std::min(lo, double(v));
            hi = std::max(hi, double(v));
        }
        for (bool sym : {true, false}) {
            const double s = sym ? std::max(-lo, hi) / 7.0 : (hi - lo) / 15.0;
            const double zero = sym ? 0.0 : std::nearbyint(-lo / s);
            Mat want(w.size());
            for (size_t i = 0; i < w.size(); ++i) {
                const double code = sym ? std::clamp(std::nearbyint(w[i] / s), -7.0, 7.0)
                                        : std::clamp(std::nearbyint(w[i] / s) + zero, 0.0, 15.0);
                want[i] = static_cast<float>((code - zero) * s);
            }
            const auto r = qbprobe::runOp(std::string("{\"method\": \"int\", \"bits\": 4, "
                                                      "\"group_size\": -1, \"symmetric\": ")
                                              + (sym ? "true}" : "false}"),
                                          w, out, in, x, t);
            QCOMPARE(r.kind, std::string(sym ? "int4-pt" : "int4-pt-asym"));
            double worst = 0;
            for (size_t i = 0; i < want.size(); ++i)
                worst = std::max(worst, double(std::fabs(r.dense[i] - want[i])));
            QVERIFY2(worst <= 1e-6 * s, qPrintable(QString::number(worst)));
            // Rows far from the large weight use few codes: w[17]'s row sets nothing special.
            QCOMPARE(r.weightBytes, out * (in / 2) + out * 4 + (sym ? 0 : out));
        }
        QVERIFY(throwsMentioning(
            [&] {
                qbprobe::runOp(R"({"method": "gptq", "group_size": -1})", w, out, in, x, t,
                               x, t);
            },
            "per tensor"));
    }

    void actBitsQuantizeInputsPerToken_data()
    {
        QTest::addColumn<int>("tokens");
        QTest::newRow("fused path (3 rows)") << 3;
        QTest::newRow("reference path (40 rows)") << 40;
    }

    void actBitsQuantizeInputsPerToken()
    {
        // W4A4: y = Q_a(x) deq(W)^T with Q_a the per-token absmax grid, on both forward paths.
        QFETCH(int, tokens);
        const int64_t out = 16, in = 128, t = tokens;
        const Mat w = gaussian(out * in, 0.1f, 31);
        Mat x = gaussian(t * in, 1.0f, 32);
        x[5] = 9.0f; // an outlier in token 0 coarsens its grid
        const auto r = qbprobe::runOp(
            R"({"method": "int", "bits": 4, "group_size": 64, "act_bits": 4})", w, out, in, x, t);
        const Mat deq = intGroupRef(w, out, in, {4, 64, false});
        QCOMPARE(r.dense, deq);
        QCOMPARE(r.kind, std::string("int4-g64-asym-a4"));
        QVERIFY(relMaxDiff(r.y, matmulT(actQuantRef(x, t, in, 4), deq, t, in, out)) < 1e-5);
        // ... and differs from the weight-only result by more than float rounding.
        QVERIFY(relMaxDiff(r.y, matmulT(x, deq, t, in, out)) > 1e-3);
        QVERIFY(throwsMentioning(
            [&] { qbprobe::runOp(R"({"method": "int", "act_bits": 1})", w, out, in, x, t); },
            "act_bits"));
    }

    void actQuantHandComputedWithStraightThroughGradient()
    {
        // Row 0: absmax 7, s = 1: 0.5 rounds half to even (0), -2.6 to -3. Row 1: absmax 3.5,
        // s = 0.5: 1.2 / 0.5 = 2.4 -> 2 -> 1.0, 0.3 / 0.5 = 0.6 -> 1 -> 0.5. Row 2 all zero.
        const Mat x = {1.0f, -2.6f, 0.5f, 7.0f, 1.2f, -3.5f, 0.3f, 0.0f, 0, 0, 0, 0};
        const Mat g = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
        Mat grad;
        const Mat y = qbprobe::actQuant(x, 3, 4, 4, g, &grad);
        QCOMPARE(y, (Mat{1.0f, -3.0f, 0.0f, 7.0f, 1.0f, -3.5f, 0.5f, 0.0f, 0, 0, 0, 0}));
        QCOMPARE(grad, g); // straight through: nothing is clipped with an absmax scale
    }

    void fp8MatchesReference()
    {
        const int64_t out = 8, in = 64, t = 3;
        const Mat w = gaussian(out * in, 0.3f, 7), x = gaussian(t * in, 1.0f, 8);
        Mat deq(out * in);
        for (int64_t r = 0; r < out; ++r) {
            float amax = 0.0f;
            for (int64_t c = 0; c < in; ++c)
                amax = std::max(amax, std::fabs(w[r * in + c]));
            const float scale = amax / 448.0f;
            for (int64_t c = 0; c < in; ++c)
                deq[r * in + c]
                    = k::fp8_e4m3_decode_ref(k::fp8_e4m3_encode_ref(w[r * in + c] / scale)) * scale;
        }
        const auto r = qbprobe::runOp(spec("{\"method\": \"fp8\"}"), w, out, in, x, t);
        QCOMPARE(r.dense, deq);
        QVERIFY(relMaxDiff(r.y, matmulT(x, deq, t, in, out)) < 1e-5);
        QCOMPARE(r.weightBytes, out * in + out * 4);
    }

    void llmInt8OutlierColumnIsExact()
    {
        // Rows of W and the regular columns of x have absmax 127, so every int8 code is exact;
        // column 2 of x holds an outlier (300.5 >= threshold 200), so the whole column (also
        // -7.25) is computed in float32 against W's dequantized column.
        const Mat w = {127, -3, 5, 64, -127, 100, -2, 1};
        const Mat x = {127, -64, 300.5f, 32, 1, 127, -7.25f, -127};
        const std::vector<double> exact
            = {127. * 127 + 64. * 3 + 300.5 * 5 + 32. * 64,
               -127. * 127 - 64. * 100 + 300.5 * -2 + 32. * 1,
               127. - 3 * 127. - 7.25 * 5 - 127. * 64, -127. + 127. * 100 + 7.25 * 2 - 127.};
        auto r = qbprobe::runOp(spec("{\"method\": \"llm_int8\", \"threshold\": 200.0}"), w, 2, 4,
                                x, 2);
        QCOMPARE(r.outliers, int64_t(1));
        for (int i = 0; i < 4; ++i)
            QCOMPARE(static_cast<double>(r.y[i]), exact[i]);
        // Without the decomposition the outlier sets row 0's int8 scale and the result drifts.
        r = qbprobe::runOp(spec("{\"method\": \"llm_int8\", \"threshold\": 1000.0}"), w, 2, 4, x,
                           2);
        QCOMPARE(r.outliers, int64_t(0));
        QVERIFY(std::fabs(r.y[0] - exact[0]) > 1.0);
    }

    // LLM.int8() and SmoothQuant compute through integer kernels; with an input that needs a
    // gradient their output keeps those values (bit for bit the no-gradient forward) and carries
    // the gradient of x · Wᵀ: grad_x = g · W for W the dequantized weight (by hand, in double).
    // Dequantize + matmul methods (int8 rows, int groups) differentiate their reference the same
    // way (their values then come from at::linear instead of the fused kernels).
    void integerMethodsPassTheGradientThrough()
    {
        const int64_t out = 6, in = 32, t = 3;
        const Mat w = gaussian(out * in, 0.3f, 21), g = gaussian(t * out, 1.0f, 22);
        Mat x = gaussian(t * in, 1.0f, 23);
        x[4] = 40.0f; // an outlier column for LLM.int8() (threshold 6)
        const std::vector<std::pair<const char *, bool>> methods{
            {R"({"method": "llm_int8"})", true},
            {R"({"method": "smoothquant", "alpha": 0.5})", true},
            {R"({"method": "int8"})", false},
            {R"({"method": "int", "bits": 4, "group_size": 32})", false}};
        for (const auto &[method, integer] : methods) {
            const auto r = qbprobe::gradThroughOp(method, w, out, in, x, t, g);
            QVERIFY2(r.requiresGrad, method);
            if (integer)
                QVERIFY2(r.y == r.yNoGrad, method);
            for (int64_t i = 0; i < t; ++i)
                for (int64_t c = 0; c < in; ++c) {
                    double want = 0.0;
                    for (int64_t o = 0; o < out; ++o)
                        want += double(g[i * out + o]) * r.dense[o * in + c];
                    QVERIFY2(std::fabs(r.grad[i * in + c] - want) < 1e-5 * (1 + std::fabs(want)),
                             method);
                }
        }
    }

    void smoothQuantMatchesW8A8Reference()
    {
        const int64_t out = 12, in = 32, t = 6;
        const Mat w = gaussian(out * in, 0.2f, 9);
        Mat x = gaussian(t * in, 1.0f, 10);
        for (int64_t i = 0; i < t; ++i)
            x[i * in + 5] *= 30.0f; // an outlier channel
        const auto r = qbprobe::runOp(spec("{\"method\": \"smoothquant\", \"alpha\": 0.5}"), w, out,
                                      in, x, t, x, t);
        QCOMPARE(r.extra.size(), size_t(in));
        for (int64_t j = 0; j < in; ++j) {
            double ax = 0.0, aw = 0.0;
            for (int64_t i = 0; i < t; ++i)
                ax = std::max(ax, std::fabs(double(x[i * in + j])));
            for (int64_t o = 0; o < out; ++o)
                aw = std::max(aw, std::fabs(double(w[o * in + j])));
            QVERIFY(std::fabs(r.extra[j] - std::sqrt(ax) / std::sqrt(aw)) < 1e-5 * r.extra[j]);
        }
        // W8A8 by hand with the op's smoothing factors s: int8(W s) per row, int8(x / s) per token.
        Mat ws(out * in), xs(t * in), sw(out), sx(t);
        for (int64_t i = 0; i < out * in; ++i)
            ws[i] = w[i] * r.extra[i % in];
        for (int64_t i = 0; i < t * in; ++i)
            xs[i] = x[i] / r.extra[i % in];
        std::vector<int8_t> qw(out * in), qx(t * in);
        k::quantize_int8_rowwise_ref(ws.data(), out, in, qw.data(), sw.data());
        k::quantize_int8_rowwise_ref(xs.data(), t, in, qx.data(), sx.data());
        std::vector<double> y(t * out);
        for (int64_t i = 0; i < t; ++i)
            for (int64_t o = 0; o < out; ++o) {
                int64_t acc = 0;
                for (int64_t j = 0; j < in; ++j)
                    acc += int64_t(qx[i * in + j]) * qw[o * in + j];
                y[i * out + o] = double(acc) * sx[i] * sw[o];
            }
        QVERIFY(relMaxDiff(r.y, y) < 1e-5);
        QCOMPARE(r.weightBytes, out * in + out * 4 + in * 4);
    }

    void gptqBlockedEqualsReference()
    {
        const int64_t out = 48, in = 128, t = 512;
        const Mat w = gaussian(out * in, 0.1f, 11), x = correlatedInputs(t, in, 12);
        struct Case
        {
            int bits, group;
            bool sym, act, stat;
            int block;
        };
        const Case cases[] = {{4, 32, false, false, false, 32},
                              {3, 0, true, false, false, 48},
                              {4, 32, false, true, false, 64},
                              {4, 32, true, true, true, 16}};
        for (const Case &c : cases) {
            const auto ref = qbprobe::runGptq("ref", w, out, in, x, t, c.bits, c.group, c.sym,
                                              c.act, c.stat, c.block);
            const auto b64 = qbprobe::runGptq("blocked64", w, out, in, x, t, c.bits, c.group, c.sym,
                                              c.act, c.stat, c.block);
            const auto b32 = qbprobe::runGptq("blocked32", w, out, in, x, t, c.bits, c.group, c.sym,
                                              c.act, c.stat, c.block);
            QCOMPARE(b64.codes, ref.codes);
            QCOMPARE(b64.scales, ref.scales);
            QCOMPARE(b64.zeros, ref.zeros);
            QCOMPARE(b64.perm, ref.perm);
            QCOMPARE(ref.perm.empty(), !(c.act && !c.stat));
            int64_t differ = 0;
            for (size_t i = 0; i < ref.codes.size(); ++i)
                differ += ref.codes[i] != b32.codes[i];
            QVERIFY2(differ <= int64_t(ref.codes.size() / 100),
                     qPrintable(QString("float32 codes differ: %1").arg(differ)));
        }
    }

    void gptqBeatsRoundToNearest()
    {
        const int64_t out = 48, in = 128, t = 512;
        const Mat w = gaussian(out * in, 0.1f, 13), x = correlatedInputs(t, in, 14);
        struct Case
        {
            int bits, group;
            bool sym, act;
        };
        for (const Case &c : {Case{4, 32, false, false}, Case{3, 0, true, false},
                              Case{4, 32, false, true}, Case{2, 32, false, false}}) {
            const auto g = qbprobe::runGptq("blocked32", w, out, in, x, t, c.bits, c.group, c.sym,
                                            c.act, false, 128);
            const double eg = outputError(x, w, g.dense, t, in, out);
            const double er
                = outputError(x, w, intGroupRef(w, out, in, {c.bits, c.group, c.sym}), t, in, out);
            qInfo("gptq int%d g%d%s: output error %.4g vs RTN %.4g (ratio %.3f)", c.bits, c.group,
                  c.act ? " act-order" : "", eg, er, eg / er);
            QVERIFY(eg < 0.9 * er);
        }
    }

    void awqSearchMatchesReferenceAndBeatsRtn()
    {
        const int64_t out = 32, in = 256, t = 256;
        const Mat w = gaussian(out * in, 0.1f, 15);
        Mat x = gaussian(t * in, 1.0f, 16);
        for (int64_t i = 0; i < t; ++i)
            for (int64_t j : {3, 40, 77, 128, 200, 250})
                x[i * in + j] *= 20.0f; // salient channels
        const auto fast = qbprobe::runAwq(false, w, out, in, x, t, 4, 64, true);
        const auto ref = qbprobe::runAwq(true, w, out, in, x, t, 4, 64, true);
        QCOMPARE(fast.best, ref.best);
        QCOMPARE(fast.losses.size(), size_t(20));
        for (size_t i = 0; i < ref.losses.size(); ++i)
            QVERIFY(std::fabs(fast.losses[i] - ref.losses[i]) <= 1e-3 * ref.losses[i]);
        const double ea = outputError(x, w, fast.dense, t, in, out);
        const double er = outputError(x, w, intGroupRef(w, out, in, {4, 64, false}), t, in, out);
        qInfo("awq int4 g64: output error %.4g vs RTN %.4g (ratio %.3f, best a = %d/20)", ea, er,
              ea / er, fast.best);
        QVERIFY(ea <= er);
        QVERIFY(fast.best > 0);
    }

    void checkpointRoundTripIsExact_data()
    {
        QTest::addColumn<bool>("tie");
        QTest::newRow("separate head") << false;
        QTest::newRow("tied head") << true;
    }

    void checkpointRoundTripIsExact()
    {
        QFETCH(bool, tie);
        const auto dir = qbtest::makeTempDir("quant-ckpt") / "model";
        const std::vector<std::string> overrides = {
            "model.layers.0.mlp.down_proj:{\"method\": \"int\", \"group_size\": -1, "
            "\"symmetric\": true, \"act_bits\": 6}",
            "*.mlp.*:{\"method\": \"gptq\", \"bits\": 4, \"group_size\": 32, \"act_order\": true}",
            "*.self_attn.o_proj:{\"method\": \"llm_int8\"}",
            "model.layers.1.self_attn.q_proj:{\"method\": \"awq\", \"group_size\": 32}",
            "model.layers.1.self_attn.k_proj:{\"method\": \"smoothquant\"}",
            "model.layers.1.self_attn.v_proj:{\"method\": \"fp8\"}",
            "model.layers.0.self_attn.v_proj:{\"method\": \"int8\"}",
            "model.layers.0.self_attn.k_proj:{\"method\": \"int\", \"bits\": 3, \"group_size\": "
            "64, \"act_bits\": 4}",
            "lm_head:{\"method\": \"fp4\", \"block_size\": 32}"}; // keeps double_quant
        const auto r = qbprobe::roundTrip(
            spec("{\"method\": \"nf4\", \"block_size\": 64, \"double_quant\": true}"), overrides,
            dir.string(), tie);
        QVERIFY(r.flaggedQuantized);
        QCOMPARE(r.loadedLogits, r.quantLogits);
        QCOMPARE(r.bytesAfter, r.bytesBefore);
        QCOMPARE(r.kindsAfter, r.kindsBefore);
        QCOMPARE(r.kindsBefore.front(), std::string("nf4-dq-b64")); // layer 0 q_proj
        QVERIFY2(r.kindsBefore.back() == (tie ? "dense" : "fp4-dq-b32"),
                 r.kindsBefore.back().c_str());
        double maxDiff = 0.0, maxRef = 0.0;
        for (size_t i = 0; i < r.denseLogits.size(); ++i) {
            maxDiff = std::max(maxDiff, double(std::fabs(r.quantLogits[i] - r.denseLogits[i])));
            maxRef = std::max(maxRef, double(std::fabs(r.denseLogits[i])));
        }
        QVERIFY(maxDiff > 0.0);
        QVERIFY2(maxDiff < 0.5 * maxRef, qPrintable(QString("%1 vs %2").arg(maxDiff).arg(maxRef)));
    }

    void layerSelection()
    {
        QVERIFY(qbprobe::glob("*.self_attn.*", "model.layers.3.self_attn.q_proj"));
        QVERIFY(!qbprobe::glob("*.self_attn.*", "model.layers.3.mlp.up_proj"));
        QVERIFY(qbprobe::glob("model.layers.?.mlp.*_proj", "model.layers.1.mlp.down_proj"));
        QVERIFY(!qbprobe::glob("model.layers.?.mlp", "model.layers.10.mlp"));
        QVERIFY(qbprobe::glob("*", "lm_head"));
        auto all = qbprobe::select({"*"}, {}, {}, false);
        QCOMPARE(all.size(), size_t(14)); // 2 layers x 7, lm_head left out
        auto mlp = qbprobe::select({"*.mlp.*"}, {"*.down_proj"}, {}, false);
        QCOMPARE(mlp,
                 (std::vector<std::string>{
                     "model.layers.0.mlp.gate_proj", "model.layers.0.mlp.up_proj",
                     "model.layers.1.mlp.gate_proj", "model.layers.1.mlp.up_proj"}));
        QCOMPARE(qbprobe::select({"*"}, {}, {"lm_head"}, false).back(), std::string("lm_head"));
        QCOMPARE(qbprobe::select({"*", "lm_head"}, {}, {}, true).size(), size_t(14));
    }
};

QTEST_GUILESS_MAIN(TestQuant)
#include "tst_quant.moc"
