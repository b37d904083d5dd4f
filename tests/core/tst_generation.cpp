// Generation of the shipped built-in reasoner with the in-place KV cache and continuous batching:
// greedy tokens equal the reference path that recomputes the whole prefix each step (fp32 and an
// INT8-quantized model), refilling finished rows changes no completion, batch size changes no
// completion, sampling repeats under a seed. The quantized KV cache: hand-computed INT8 and FP8
// round trips, every stored element within the bound model/kv_cache.h states (also for rows of
// different lengths, appended and kept rows), and the bytes per position of each format.
#include "generation_probe.h"

#include <QtTest>

namespace {

genprobe::Run run(int prompts, int64_t batch)
{
    genprobe::Run r;
    r.prompts = prompts;
    r.batch = batch;
    return r;
}

int differing(const genprobe::Tokens &a, const genprobe::Tokens &b)
{
    int n = 0;
    for (size_t i = 0; i < a.size(); ++i)
        n += a[i] != b[i];
    return n;
}

} // namespace

class TestGeneration : public QObject
{
    Q_OBJECT

    void checkCachedEqualsRecompute(const std::string &quant)
    {
        // The reference recomputes every prefix each step: kept small.
        genprobe::Run cached = run(6, 3);
        cached.maxNewTokens = 40;
        cached.quant = quant;
        genprobe::Run reference = cached;
        reference.useCache = false;
        const auto a = genprobe::generateShipped(cached);
        const auto b = genprobe::generateShipped(reference);
        QCOMPARE(a.size(), size_t(6));
        QCOMPARE(differing(a, b), 0);
        size_t tokens = 0;
        for (const auto &row : a)
            tokens += row.size();
        QVERIFY2(tokens > 6 * 20, "completions are implausibly short");
    }

private Q_SLOTS:
    void greedyCachedEqualsRecomputeFp32() { checkCachedEqualsRecompute(""); }
    void greedyCachedEqualsRecomputeInt8Weights() { checkCachedEqualsRecompute("int8"); }

    void refillChangesNoCompletion()
    {
        genprobe::Run refill = run(40, 8);
        genprobe::Run batches = refill;
        batches.refill = false;
        QCOMPARE(differing(genprobe::generateShipped(refill), genprobe::generateShipped(batches)), 0);
    }

    void batchSizeChangesNoCompletion()
    {
        const auto single = genprobe::generateShipped(run(12, 1));
        QCOMPARE(differing(single, genprobe::generateShipped(run(12, 64))), 0);
        QCOMPARE(differing(single, genprobe::generateShipped(run(12, 5))), 0);
    }

    void prefillStatsCountEveryPromptOnce()
    {
        // 40 prompts, 8 rows with refill: several prefills, each prompt's tokens counted once.
        genprobe::Run r = run(40, 8);
        r.maxNewTokens = 8;
        const auto c = genprobe::prefillCount(r);
        QVERIFY(c.promptTokens > 40);
        QCOMPARE(c.prefillTokens, c.promptTokens);
        QVERIFY(c.prefillSeconds > 0);
        r.refill = false;
        QCOMPARE(genprobe::prefillCount(r).prefillTokens, c.promptTokens);
        r.useCache = false; // the reference path has no separate prefill: nothing counted
        const auto none = genprobe::prefillCount(r);
        QCOMPARE(none.prefillTokens, int64_t(0));
        QCOMPARE(none.prefillSeconds, 0.0);
    }

    // The prefill's shortcut: the last position alone out of the last layer, the same values
    // there and in the cache. Exact with the fused kernels (a row's result does not depend on
    // the rows computed beside it: kernels/gemm_f32.h, attention.h); torch's BLAS may round a
    // one-row product differently from the same row in a larger one.
    void lastPositionOnlyKeepsTheLastPosition()
    {
        const auto fused = genprobe::lastPositionOnlyDiff(true);
        QCOMPARE(fused.returnedPositions, int64_t(1));
        QCOMPARE(fused.hidden, 0.0);
        QCOMPARE(fused.cache, 0.0);
        const auto reference = genprobe::lastPositionOnlyDiff(false);
        QCOMPARE(reference.returnedPositions, int64_t(1));
        QVERIFY2(reference.hidden < 1e-4, std::to_string(reference.hidden).c_str());
        QCOMPARE(reference.cache, 0.0);
    }

    // 64 x 48 floats pack into 2 panels of 32 x 48: 12 KiB. Over an 8 KiB budget the layer takes
    // at::linear and holds nothing; under 1 MiB it holds its copy, a copy of the layer its own,
    // and both are returned when they go.
    void packedCopiesStayWithinTheirBudget()
    {
        const auto r = genprobe::packedBudget();
        QVERIFY(r.resultsMatch);
        QCOMPARE(r.heldUnder8k, int64_t(0));
        QCOMPARE(r.heldUnder1m, int64_t(12 * 1024));
        QCOMPARE(r.heldAfterCopy, int64_t(24 * 1024));
        QCOMPARE(r.heldAfterRelease, int64_t(0));
    }

    void samplingRepeatsUnderSeed()
    {
        genprobe::Run r = run(16, 6);
        r.strategy = "sample";
        r.seed = 5;
        const auto a = genprobe::generateShipped(r);
        QCOMPARE(differing(a, genprobe::generateShipped(r)), 0);
        r.seed = 6;
        QVERIFY(differing(a, genprobe::generateShipped(r)) > 0);
    }

    void int8RoundTripHandComputed()
    {
        // absmax 127: scale 1; -63.5 rounds half to even (-64), 0.4 to 0.
        std::vector<float> scales;
        const auto back = genprobe::kvRoundTrip({127.0f, -63.5f, 0.4f, 0.0f, 0, 0, 0, 0}, 4,
                                                "int8", &scales);
        QCOMPARE(scales, (std::vector<float>{1.0f, 0.0f}));
        QCOMPARE(back, (std::vector<float>{127.0f, -64.0f, 0.0f, 0.0f, 0, 0, 0, 0}));
    }

    void int4RoundTripHandComputed()
    {
        // absmax 7: scale 1; -2.5 rounds half to even (-2), 0.4 to 0, 3.6 to 4, -7 stays; packed
        // two codes per byte and unpacked in order.
        std::vector<float> scales;
        const auto back = genprobe::kvRoundTrip({7.0f, -2.5f, 0.4f, 3.6f, -7.0f, 1.0f}, 6, "int4",
                                                &scales);
        QCOMPARE(scales, (std::vector<float>{1.0f}));
        QCOMPARE(back, (std::vector<float>{7.0f, -2.0f, 0.0f, 4.0f, -7.0f, 1.0f}));
        // absmax 14: scale 2; 5 / 2 = 2.5 rounds to 2 -> 4; an all-zero row stays zero.
        const auto half = genprobe::kvRoundTrip({14.0f, 5.0f, 0, 0}, 2, "int4", &scales);
        QCOMPARE(scales, (std::vector<float>{2.0f, 0.0f}));
        QCOMPARE(half, (std::vector<float>{14.0f, 4.0f, 0.0f, 0.0f}));
    }

    void fp8RoundTripHandComputed()
    {
        // absmax 448: scale 1; 0.3 = 1.2 * 2^-2 lies between 1.125 and 1.25 (3 mantissa bits) and
        // rounds to 1.25 * 2^-2 = 0.3125.
        std::vector<float> scales;
        const auto back = genprobe::kvRoundTrip({448.0f, 1.0f, -0.3f, 0.0f}, 4, "fp8", &scales);
        QCOMPARE(scales, (std::vector<float>{1.0f}));
        QCOMPARE(back, (std::vector<float>{448.0f, 1.0f, -0.3125f, 0.0f}));
    }

    void storedValuesWithinStatedBound()
    {
        QCOMPARE(genprobe::kvCacheWriteErrorOverBound("fp32"), 0.0);
        const double int8 = genprobe::kvCacheWriteErrorOverBound("int8");
        QVERIFY2(int8 <= 1.0 && int8 > 0.2, std::to_string(int8).c_str());
        const double fp8 = genprobe::kvCacheWriteErrorOverBound("fp8");
        QVERIFY2(fp8 <= 1.0 && fp8 > 0.2, std::to_string(fp8).c_str());
        const double int4 = genprobe::kvCacheWriteErrorOverBound("int4");
        QVERIFY2(int4 <= 1.0 && int4 > 0.2, std::to_string(int4).c_str());
    }

    void bytesPerPosition()
    {
        // 4 layers x (keys + values) x 4 KV heads x 32 dims: 4 bytes each, or 1 byte plus one
        // float32 scale per head.
        QCOMPARE(genprobe::kvBytesPerPosition("fp32"), int64_t(4 * 2 * 4 * 32 * 4));
        QCOMPARE(genprobe::kvBytesPerPosition("int8"), int64_t(4 * 2 * 4 * (32 + 4)));
        QCOMPARE(genprobe::kvBytesPerPosition("fp8"), int64_t(4 * 2 * 4 * (32 + 4)));
        // int4: two codes per byte.
        QCOMPARE(genprobe::kvBytesPerPosition("int4"), int64_t(4 * 2 * 4 * (16 + 4)));
    }
};

QTEST_GUILESS_MAIN(TestGeneration)
#include "tst_generation.moc"
