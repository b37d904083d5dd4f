// The fused quantized kernels change no generated token: the shipped built-in reasoner quantized
// INT4 g128, NF4 (double quant) and INT8 generates the same greedy tokens with the fused path
// (kernels/fused_linear.h, the best path of this CPU or QB_KERNEL_PATH) as through dequantize +
// matmul, and its logits differ by at most kLogitTolerance (float32 sums in another order).
// With int8 activations (QB_ACT_Q8, kernels/fused_linear_q8.h) logits move by the rounding
// (measured 0.36 of logits up to 28; NF4's codebook is rounded to int8 steps as well) and the
// greedy generations stay the same. Decoding steps also take the fused attention
// (kernels/attention.h) unless QB_FUSED is off, also for the float32 model.
#include "fused_generation_probe.h"

#include <QtTest>

namespace {

// Logits of this model are O(10); float32 rounding of ~1k-term dot products through 4 layers
// stays well below 1e-3 (measured ~1e-5); a wrong weight or scale moves them by O(0.1) or more.
constexpr double kLogitTolerance = 2e-3;
// Over a quantized KV cache (see quantizedCacheReadAsStored): a few code steps.
constexpr double kCacheLogitTolerance = 5e-2;

} // namespace

class TestFusedGeneration : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void sameTokensAsReference_data()
    {
        QTest::addColumn<QString>("method");
        // The int method's default is asymmetric (a uint8 zero point per group).
        QTest::newRow("int4-g128") << R"({"method": "int", "bits": 4, "group_size": 128})";
        QTest::newRow("int4-g128-sym")
            << R"({"method": "int", "bits": 4, "group_size": 128, "symmetric": true})";
        QTest::newRow("nf4-dq")
            << R"({"method": "nf4", "block_size": 64, "double_quant": true})";
        QTest::newRow("int8") << R"({"method": "int8"})";
        // No quantization: only the attention is fused.
        QTest::newRow("fp32") << "";
    }

    void sameTokensAsReference()
    {
        QFETCH(QString, method);
        // 6 prompts: batch 1 (GEMV decode) for two, then batches of 4 (4-row GEMM decode).
        const auto one = fusedprobe::compare(method.toStdString(), 2, 1, 40);
        const auto four = fusedprobe::compare(method.toStdString(), 4, 4, 40);
        qInfo("path %s, max |logit diff| %.3g (max |logit| %.3g)", one.kernelPath.c_str(),
              one.maxLogitDiff, one.maxLogitAbs);
        qInfo("max |logit diff| of a cached decoding step %.3g", one.maxDecodeLogitDiff);
        QVERIFY(one.fusedCalls > 0 || method.isEmpty());
        for (const auto *c : {&one, &four}) {
            QCOMPARE(c->fused.size(), c->reference.size());
            for (size_t i = 0; i < c->fused.size(); ++i) {
                QVERIFY(!c->reference[i].empty());
                QVERIFY2(c->fused[i] == c->reference[i], qPrintable(QString("prompt %1").arg(i)));
            }
            QVERIFY(c->maxLogitAbs > 1.0);
            QVERIFY(c->maxLogitDiff <= kLogitTolerance);
            QVERIFY(c->maxLogitDiff > 0.0 || c->kernelPath == "scalar");
            QVERIFY(c->maxDecodeLogitDiff <= kLogitTolerance);
            QVERIFY(c->maxDecodeLogitDiff > 0.0 || c->kernelPath == "scalar");
        }
    }

    // The fused attention reads an INT8, INT4 or FP8 cache's codes directly; the reference
    // decodes them to float32 first. The same arithmetic up to float rounding, but a new position's keys
    // and values are rounded to codes after the layers below, where the two paths differ by
    // ~1e-5: an element on a rounding boundary then moves by a whole step (absmax / 127, / 7, or
    // an FP8 step),
    // so logits differ by more than kLogitTolerance (measured 2.3e-3 for INT8 of logits up to 22;
    // the same with the codes decoded first, so it is not the code reading).
    void quantizedCacheReadAsStored_data()
    {
        QTest::addColumn<QString>("format");
        QTest::newRow("int8") << "int8";
        QTest::newRow("int4") << "int4";
        QTest::newRow("fp8") << "fp8";
    }

    void quantizedCacheReadAsStored()
    {
        QFETCH(QString, format);
        const auto c = fusedprobe::compareQuantizedCache(format.toStdString(), 8, 4, 40);
        qInfo("max |logit diff| of a decoding step over an %s cache %.3g (max |logit| %.3g)",
              qPrintable(format), c.maxDecodeLogitDiff, c.maxLogitAbs);
        QCOMPARE(c.fused.size(), c.reference.size());
        int same = 0;
        for (size_t i = 0; i < c.fused.size(); ++i) {
            QVERIFY(!c.reference[i].empty());
            same += c.fused[i] == c.reference[i];
        }
        qInfo("%d of %zu greedy generations identical", same, c.fused.size());
        QCOMPARE(same, int(c.fused.size()));
        QVERIFY(c.maxLogitAbs > 1.0);
        QVERIFY(c.maxDecodeLogitDiff <= kCacheLogitTolerance);
        QVERIFY(c.maxDecodeLogitDiff > 0.0);
    }

    // Int8 activations (llama.cpp's q8_0 scheme) round every linear's input, so logits move by
    // more than float rounding; measured on these prompts: see the qInfo line.
    void int8ActivationsStayClose_data()
    {
        QTest::addColumn<QString>("method");
        QTest::newRow("int4-g128") << R"({"method": "int", "bits": 4, "group_size": 128})";
        QTest::newRow("int8") << R"({"method": "int8"})";
        QTest::newRow("nf4-dq")
            << R"({"method": "nf4", "block_size": 64, "double_quant": true})";
    }

    void int8ActivationsStayClose()
    {
        QFETCH(QString, method);
        const auto one = fusedprobe::compare(method.toStdString(), 4, 1, 40, true);
        qInfo("max |logit diff| %.3g (max |logit| %.3g)", one.maxLogitDiff, one.maxLogitAbs);
        int same = 0;
        for (size_t i = 0; i < one.fused.size(); ++i)
            same += one.fused[i] == one.reference[i];
        qInfo("%d of %zu greedy generations identical", same, one.fused.size());
        // The rounding is really applied, and stays small: a wrong scale, zero point or lane
        // mapping moves logits by several units (seen when breaking the kernel on purpose).
        QVERIFY(one.maxLogitDiff > kLogitTolerance);
        QVERIFY(one.maxLogitDiff < 1.0);
        QVERIFY(same >= 3); // measured 3 or 4 of 4 per format; a near-tie may flip one
    }

    // Large packed weights are copied into 2 MiB-aligned memory (advised for huge pages) with
    // their bytes unchanged; small ones, or all with QB_HUGE_PAGES off, keep their storage.
    void packedWeightsPlacedOnHugePages()
    {
        const auto c = fusedprobe::weightPlacement();
        qInfo("transparent huge pages: %s", c.thpMode.c_str());
        QVERIFY(c.large.equal);
        QVERIFY(c.large.aligned);
        QVERIFY(!c.large.sameStorage);
        QVERIFY(c.small.equal);
        QVERIFY(c.small.sameStorage);
        QVERIFY(c.largeOff.equal);
        QVERIFY(c.largeOff.sameStorage);
    }

    void bf16ComputeWithinItsBound()
    {
        const auto c = fusedprobe::bf16ComputeRows();
        if (!c.active)
            QSKIP("no AVX-512 BF16 here: dense linears keep float32 with bf16 compute asked for");
        QCOMPARE(c.batchedVsSingle, 0.0);
        QVERIFY2(c.worstRatioToBound <= 1.0, qPrintable(QString::number(c.worstRatioToBound)));
        QVERIFY(c.maxDiff > 0.0);
    }

    void int8ActivationsAtEveryRowCount()
    {
        const auto c = fusedprobe::int8ActivationRows();
        QCOMPARE(c.batchedVsSingle, 0.0);
        QVERIFY(c.int8VsFloat > 0.0);
    }
};

QTEST_APPLESS_MAIN(TestFusedGeneration)
#include "tst_fused_generation.moc"
