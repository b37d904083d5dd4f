// The Hugging Face GPTQ / AWQ checkpoint layouts (quant/hf_quant_pack.h, hf_quant_export.h,
// hf_quant_import.h): packings against words computed by hand from AutoGPTQ's and AutoAWQ's
// packing rules, export -> import round trips of a tiny random model, and the HF dequantization
// formula written out here on the file's raw int32 words against the loaded weights.
#include "core/hf_quant_probe.h"
#include "support/test_support.h"

#include <nlohmann/json.hpp>

#include <QtTest>

#include <cmath>

namespace {

// float16 has an 11-bit significand: rounding a normal number to nearest changes it by at most
// half a unit in the last place, 2^-11 relative.
constexpr double kFp16Rel = 1.0 / 2048.0;

std::string dirFor(const std::string &tag)
{
    return (qbtest::makeTempDir("hfq") / tag).string();
}

} // namespace

class TestHfQuant : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void gptqPackingByHand()
    {
        // AutoGPTQ packs input rows i..i+32/b-1 of a column into one word, row i + j at bit b*j.
        // 4-bit, two columns: codes 1..8 down column 0 -> 0x87654321; column 1 holds 15 in row 0.
        const std::vector<int32_t> v4 = {1, 15, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8, 0};
        const auto p4 = qbprobe::hfPackGptq(v4, 8, 2, 4);
        QCOMPARE(p4.size(), size_t(2));
        QCOMPARE(static_cast<uint32_t>(p4[0]), 0x87654321u);
        QCOMPARE(p4[1], 15);
        QCOMPARE(qbprobe::hfUnpackGptq(p4, 8, 2, 4), v4);
        // 2-bit: 3, 0, 1, 2 then zeros -> 3 | 1 << 4 | 2 << 6 = 147.
        std::vector<int32_t> v2(16, 0);
        v2[0] = 3, v2[2] = 1, v2[3] = 2;
        QCOMPARE(qbprobe::hfPackGptq(v2, 16, 1, 2), std::vector<int32_t>{147});
        // 8-bit: 0x12, 0x34, 0x56, 0x78 -> 0x78563412.
        const std::vector<int32_t> v8 = {0x12, 0x34, 0x56, 0x78};
        QCOMPARE(qbprobe::hfPackGptq(v8, 4, 1, 8), std::vector<int32_t>{0x78563412});
        // 3-bit, 32 values in 3 words: value 10 = 7 puts its low two bits at bits 30..31 of
        // word 0 and its high bit at bit 0 of word 1; value 21 = 5 (101b) puts its low bit at
        // bit 31 of word 1 and 10b at bits 0..1 of word 2; value 31 = 6 sits at bits 29..31 of
        // word 2; value 0 = 1 at bit 0 of word 0.
        std::vector<int32_t> v3(32, 0);
        v3[0] = 1, v3[10] = 7, v3[21] = 5, v3[31] = 6;
        const auto p3 = qbprobe::hfPackGptq(v3, 32, 1, 3);
        QCOMPARE(p3.size(), size_t(3));
        QCOMPARE(static_cast<uint32_t>(p3[0]), 0xC0000001u);
        QCOMPARE(static_cast<uint32_t>(p3[1]), 0x80000001u);
        QCOMPARE(static_cast<uint32_t>(p3[2]), 0xC0000002u);
        QCOMPARE(qbprobe::hfUnpackGptq(p3, 32, 1, 3), v3);
    }

    void awqPackingByHand()
    {
        // AutoAWQ's WQLinear_GEMM: nibble i of word c holds column 8c + order[i], order =
        // {0,2,4,6,1,3,5,7}. Columns 1..8 -> nibbles 1,3,5,7,2,4,6,8 -> 0x86427531.
        const std::vector<int32_t> v = {1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0, 9};
        const auto p = qbprobe::hfPackAwq(v, 1, 16);
        QCOMPARE(p.size(), size_t(2));
        QCOMPARE(static_cast<uint32_t>(p[0]), 0x86427531u);
        QCOMPARE(static_cast<uint32_t>(p[1]), 0x90000000u); // column 15 = 8 + 7: nibble 7
        QCOMPARE(qbprobe::hfUnpackAwq(p, 1, 16), v);
    }

    void roundTrips_data()
    {
        QTest::addColumn<QString>("variant");
        QTest::addColumn<int>("bits");
        QTest::addColumn<int>("groupSize");
        QTest::addColumn<bool>("descAct");
        QTest::addColumn<QString>("kind");
        for (const auto &[v, bits, g, act, kind] :
             std::vector<std::tuple<const char *, int, int, bool, const char *>>{
                 {"gptq4-g32", 4, 32, false, "gptq-int4-g32-asym"},
                 {"gptq4-g32-act", 4, 32, true, "gptq-int4-g32-asym-act"},
                 {"gptq4-pc", 4, -1, false, "gptq-int4-pc-asym"},
                 // Per channel, act-order changes the order of GPTQ's updates but not the
                 // storage (one group): no permutation, g_idx all zero, desc_act false.
                 {"gptq4-pc-act", 4, -1, false, "gptq-int4-pc-asym"},
                 {"gptq3-g32-act", 3, 32, true, "gptq-int3-g32-asym-act"},
                 {"gptq2-g32", 2, 32, false, "gptq-int2-g32-asym"},
                 {"gptq8-pc", 8, -1, false, "gptq-int8-pc-asym"},
                 {"gptq4-g32-sym", 4, 32, true, "gptq-int4-g32-act"},
                 {"awq4-g32", 4, 32, false, "awq-int4-g32-asym"},
                 {"int4-g32-awq", 4, 32, false, "awq-int4-g32-asym"}})
            QTest::newRow(v) << QString(v) << bits << g << act << QString(kind);
    }

    void roundTrips()
    {
        QFETCH(QString, variant);
        QFETCH(int, bits);
        QFETCH(int, groupSize);
        QFETCH(bool, descAct);
        QFETCH(QString, kind);
        const std::string name = variant.toStdString();
        const auto r = qbprobe::hfRoundTrip(name, dirFor(name));
        QVERIFY2(r.error.empty(), r.error.c_str());
        const auto qc = nlohmann::json::parse(r.quantizationConfig);
        const bool awq = name.find("awq") != std::string::npos;
        QCOMPARE(qc["quant_method"].get<std::string>(), std::string(awq ? "awq" : "gptq"));
        QCOMPARE(qc["bits"].get<int>(), bits);
        QCOMPARE(qc["group_size"].get<int>(), groupSize);
        if (awq) {
            QCOMPARE(qc["zero_point"].get<bool>(), true);
            QCOMPARE(qc["version"].get<std::string>(), std::string("gemm"));
        } else {
            QCOMPARE(qc["desc_act"].get<bool>(), descAct);
            QCOMPARE(qc["sym"].get<bool>(), name.find("sym") != std::string::npos);
            QCOMPARE(qc["checkpoint_format"].get<std::string>(), std::string("gptq"));
        }
        QCOMPARE(r.quantizedLayers, int64_t(14)); // 2 layers x 7 linears; lm_head stays dense
        QCOMPARE(r.provenanceFormat, std::string(awq ? "awq" : "gptq"));
        QCOMPARE(QString::fromStdString(r.loadedKind), kind);
        QVERIFY(r.codesEqual);
        QVERIFY(r.permKept);
        // AWQ with input scales: q/k/v and gate/up into the two norms, o into v, down into up.
        QCOMPARE(r.folds, int64_t(name == "awq4-g32" ? 2 * 4 : 0));

        // Scales pass through float16 once: a relative change of at most 2^-11 each (they are
        // all normal float16 numbers here), and it does happen.
        QVERIFY2(r.maxScaleRelChange > 0 && r.maxScaleRelChange <= kFp16Rel,
                 qPrintable(QString::number(r.maxScaleRelChange)));
        // A dequantized weight is (q - z) * scale, so it changes by the same relative amount
        // (float32 products add ~1e-7).
        QVERIFY2(r.maxWeightRelChange <= r.maxScaleRelChange + 1e-6,
                 qPrintable(QString::number(r.maxWeightRelChange)));
        // The file read by the HF formula written out in the probe equals what was loaded:
        // both compute (q - z) * scale in float32 from the same numbers.
        QVERIFY2(r.naiveVsLoaded <= 1e-6 * r.naiveMaxAbs,
                 qPrintable(QString::number(r.naiveVsLoaded)));
        // Against the in-memory model with its scales rounded to float16 the loaded model
        // differs only in summation order (act-order stores groups in another column order).
        if (r.maxLogitDiffFp16Ref >= 0)
            QVERIFY2(r.maxLogitDiffFp16Ref <= 1e-5 * r.maxLogitAbs,
                     qPrintable(QString::number(r.maxLogitDiffFp16Ref)));
        // Against the in-memory model itself: each of the 14 quantized matrices a token passes
        // through changes by at most 2^-11 relative, so logits move by about that much times the
        // depth; 14 * 2^-11 of the largest logit (0.7%) bounds it with room for cancellation.
        QVERIFY2(r.maxLogitDiff <= 14 * kFp16Rel * r.maxLogitAbs,
                 qPrintable(QString("%1 of max %2").arg(r.maxLogitDiff).arg(r.maxLogitAbs)));
        qInfo("%s: max scale rel change %.3g, max |dlogit| %.3g of max |logit| %.3g",
              name.c_str(), r.maxScaleRelChange, r.maxLogitDiff, r.maxLogitAbs);
    }

    void exportRefusals()
    {
        auto err = [](const char *v) {
            return QString::fromStdString(qbprobe::hfExportError(v, dirFor(v)));
        };
        QString e = err("nf4");
        QVERIFY2(e.contains("model.layers.1.mlp.up_proj (nf4") && e.contains("group-wise INT-k"),
                 qPrintable(e));
        e = err("awq-gqa");
        QVERIFY2(e.contains("model.layers.0.self_attn.o_proj") && e.contains("v_proj")
                     && e.contains("grouped-query"),
                 qPrintable(e));
        e = err("awq-qkv-differ");
        QVERIFY2(e.contains("model.layers.0.self_attn.k_proj")
                     && e.contains("model.layers.0.input_layernorm.weight"),
                 qPrintable(e));
        e = err("gptq-odd-shape");
        QVERIFY2(e.contains("mlp.gate_proj") && e.contains("multiples of 32"), qPrintable(e));
        e = err("awq-3bit");
        QVERIFY2(e.contains("4-bit weights only"), qPrintable(e));
        e = err("mixed-bits");
        QVERIFY2(e.contains("model.layers.1.mlp.down_proj (int8-pc-asym): 8 bits, group_size -1")
                     && e.contains("model.layers.0.self_attn.q_proj has 4 bits, group_size 32")
                     && e.contains("one setting for all layers"),
                 qPrintable(e));
        // GPTQ v1 stores zero - 1: a zero point of 0 has no encoding; AWQ stores the zero itself.
        e = err("gptq-zero0");
        QVERIFY2(e.contains("model.layers.0.self_attn.q_proj")
                     && e.contains("zero point 0 at row 0, group 0"),
                 qPrintable(e));
        QCOMPARE(err("awq-zero0"), QString());
    }

    void legacySideFilesLoadTheSame()
    {
        for (const char *v : {"gptq4-g32-act", "awq4-g32"}) {
            std::string error;
            const double d = qbprobe::hfLegacyConfigLogitDiff(v, dirFor(std::string("legacy-") + v),
                                                              &error);
            QVERIFY2(error.empty(), error.c_str());
            QCOMPARE(d, 0.0); // the same tensors read the same way
        }
    }

    void symmetricCheckpointsUseTheWholeCodeRange()
    {
        // AutoGPTQ's sym=True rounds to codes 0 .. 2^b - 1 around zero 2^(b-1); code 0 (one step
        // beyond our own symmetric range) must decode to -2^(b-1) steps on both forward paths.
        for (int bits : {2, 3, 4, 8}) {
            bool symmetric = false;
            const double d = qbprobe::hfSymmetricFullRange(bits, &symmetric);
            QVERIFY(symmetric);
            QVERIFY2(d < 1e-4, qPrintable(QString("%1 bits: %2").arg(bits).arg(d)));
        }
    }

    void gptqV1AndV2ZeroConventions()
    {
        // The same qzeros read as v2 (the zero) instead of v1 (zero - 1): every zero is one
        // lower, so every weight (q - z) * s is one scale step higher.
        const double d = qbprobe::hfGptqV2Shift(dirFor("v2"));
        QVERIFY2(d <= 1e-7, qPrintable(QString::number(d)));
    }

    void importNamesTensorAndShape()
    {
        const QString e = QString::fromStdString(qbprobe::hfImportWrongBits(dirFor("bits")));
        // 64 inputs at 8 bits make 16 words, the file has the 4-bit 8.
        QVERIFY2(e.contains("tensor 'model.layers.0.self_attn.q_proj.qweight' has shape [8, 64], "
                            "expected [16, 64]"),
                 qPrintable(e));
    }
};

QTEST_GUILESS_MAIN(TestHfQuant)
#include "tst_hf_quant.moc"
