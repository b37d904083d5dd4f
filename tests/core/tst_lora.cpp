// LoRA / QA-LoRA / PEFT adapters and QAT (train/lora.h, train/fake_quant.h), checked against
// hand-computed cases, the kernels' scalar references, PEFT's published tensor names and the
// distribution PEFT's Kaiming-uniform initialization draws from. Torch work is in lora_probe.cpp.
#include "kernels/int_group.h"
#include "lora_probe.h"
#include "support/test_support.h"

#include <QtTest>

#include <nlohmann/json.hpp>

#include <cmath>

using qbprobe::Mat;

namespace {

const char *kModel = R"({"vocab_size": 50, "hidden_size": 64, "intermediate_size": 128,
    "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
    "max_position_embeddings": 64, "tie_word_embeddings": false, "attention_bias": true,
    "eos_token_id": 0})";

// max |a - b| / max |b|
double relDiff(const Mat &a, const Mat &b)
{
    double num = 0, den = 1e-30;
    for (size_t i = 0; i < b.size(); ++i) {
        num = std::max(num, std::fabs(double(a[i]) - b[i]));
        den = std::max(den, std::fabs(double(b[i])));
    }
    return num / den;
}

} // namespace

class TestLora : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void forwardHandComputed()
    {
        // W = [[1, 2], [3, 4]], x = [1, 3]: W x = [7, 15].
        const Mat w{1, 2, 3, 4}, x{1, 3};
        // r = 1, A = [0.5, -1], B = [2, 1]^T, alpha 4: A x = -2.5, (alpha / r) B A x = [-20, -10].
        auto y = qbprobe::loraForward(w, 2, 2, {0.5f, -1}, {2, 1}, 1, 4.0, false, x, 1);
        QCOMPARE(y.size(), size_t(2));
        QVERIFY(std::fabs(y[0] - -13.0) < 1e-5 && std::fabs(y[1] - 5.0) < 1e-5);
        // r = 2, A = [[0.5, -1], [1, 1]], B = [[2, 0], [1, -1]]: A x = [-2.5, 4], B A x = [-5, -6.5].
        const Mat a2{0.5f, -1, 1, 1}, b2{2, 0, 1, -1};
        y = qbprobe::loraForward(w, 2, 2, a2, b2, 2, 4.0, false, x, 1); // scale 4 / 2
        QVERIFY(std::fabs(y[0] - -3.0) < 1e-5 && std::fabs(y[1] - 2.0) < 1e-5);
        y = qbprobe::loraForward(w, 2, 2, a2, b2, 2, 4.0, true, x, 1); // rsLoRA: 4 / sqrt(2)
        const double s = 4.0 / std::sqrt(2.0);
        QVERIFY(std::fabs(y[0] - (7 - 5 * s)) < 1e-5);
        QVERIFY(std::fabs(y[1] - (15 - 6.5 * s)) < 1e-5);
    }

    void zeroAdapterIsBitIdentical()
    {
        QVERIFY(qbprobe::zeroAdapterIsBase(R"({"method": "nf4", "block_size": 64})"));
        QVERIFY(qbprobe::zeroAdapterIsBase(
            R"({"method": "int", "bits": 4, "group_size": 32, "symmetric": false})"));
    }

    void inferenceSeesAdapterChanges()
    {
        // float32 sums of 64 and 4 products (outputs of tens) in another order than
        // at::matmul's; a stale adapter would be off by the size of its whole update
        const double deviation = qbprobe::adapterChangesAreSeen();
        QVERIFY2(deviation < 1e-3, qPrintable(QString::number(deviation)));
    }

    void gradientsOnlyToAdapter()
    {
        const auto r = qbprobe::gradientsOverInt4();
        QVERIFY(r.aGrad && r.bGrad);
        QVERIFY(!r.baseGrad);
        QVERIFY(r.bChanged);
        QVERIFY(r.packedUnchanged);
        QVERIFY(r.xGrad);
        // B = 0 at backward, so d sum(y) / dx_j = sum_o W[o, j] of the base, decoded here by the
        // kernel's scalar reference.
        qb::kernels::IntGroupConfig cfg{4, r.groupSize, false};
        Mat deq(size_t(r.out) * r.in);
        qb::kernels::dequantize_int_group_ref(r.packed.data(), r.scales.data(), r.zeros.data(),
                                              r.out, r.in, cfg, deq.data());
        for (int t = 0; t < r.tokens; ++t)
            for (int j = 0; j < r.in; ++j) {
                double col = 0;
                for (int o = 0; o < r.out; ++o)
                    col += deq[o * r.in + j];
                QVERIFY2(std::fabs(r.xGradient[t * r.in + j] - col) < 1e-4,
                         qPrintable(QString::number(j)));
            }
    }

    void kaimingUniformBound()
    {
        double maxAbs = 0, variance = 0;
        qbprobe::kaimingStats(16, 256, 12, maxAbs, variance);
        QVERIFY(maxAbs <= 1.0 / 16.0);
        QVERIFY(maxAbs > 0.9 / 16.0);
        const double expected = 1.0 / (3.0 * 256); // variance of U(-b, b) = b^2 / 3
        QVERIFY2(std::fabs(variance / expected - 1.0) < 0.06, qPrintable(QString::number(variance)));
    }

    void straightThroughEstimator()
    {
        // Symmetric int4 (codes -7..7), groups of 4, scales 0.5 and 0.25: clip ranges +-3.5, +-1.75.
        const Mat w{0.3f, -1.2f, 3.4f, 5.0f, -2.0f, 0.1f, 1.75f, -0.6f};
        Mat values, grad, scaleGrad;
        qbprobe::steInt4(w, 1, 8, 4, {0.5f, 0.25f}, values, grad, scaleGrad);
        const Mat wantValues{0.5f, -1.0f, 3.5f, 3.5f, -1.75f, 0.0f, 1.75f, -0.5f};
        const Mat wantGrad{1, 1, 1, 0, 0, 1, 1, 1}; // 5.0 and -2.0 lie outside
        for (int i = 0; i < 8; ++i) {
            QVERIFY2(std::fabs(values[i] - wantValues[i]) < 1e-6, qPrintable(QString::number(i)));
            QCOMPARE(grad[i], wantGrad[i]);
        }
        // LSQ: sum of (round(v) - v) inside, of the clip bound outside, times 1 / sqrt(4 * 7).
        const double g = 1.0 / std::sqrt(28.0);
        QVERIFY(std::fabs(scaleGrad[0] - (0.4 + 0.4 + 0.2 + 7) * g) < 1e-5);
        QVERIFY(std::fabs(scaleGrad[1] - (-7 - 0.4 + 0 + 0.4) * g) < 1e-5);
    }

    void peftRoundTrip()
    {
        const auto dir = qbtest::makeTempDir("lora-peft");
        const auto r = qbprobe::peftRoundTrip(kModel, {"*.q_proj", "*.v_proj", "lm_head"},
                                              dir.string());
        const std::vector<std::string> want{
            "base_model.model.lm_head.lora_A.weight",
            "base_model.model.lm_head.lora_B.weight",
            "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight",
            "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight",
            "base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight",
            "base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight",
            "base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight",
            "base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight",
            "base_model.model.model.layers.1.self_attn.v_proj.lora_A.weight",
            "base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight"};
        QCOMPARE(r.tensorNames, want);
        const auto cfg = nlohmann::json::parse(r.configJson);
        QCOMPARE(cfg.at("peft_type").get<std::string>(), std::string("LORA"));
        QCOMPARE(cfg.at("task_type").get<std::string>(), std::string("CAUSAL_LM"));
        QCOMPARE(cfg.at("r").get<int>(), 4);
        QCOMPARE(cfg.at("lora_alpha").get<double>(), 8.0);
        QCOMPARE(cfg.at("target_modules"),
                 nlohmann::json(std::vector<std::string>{"q_proj", "v_proj", "lm_head"}));
        QCOMPARE(cfg.at("bias").get<std::string>(), std::string("none"));
        QCOMPARE(cfg.at("fan_in_fan_out").get<bool>(), false);
        QCOMPARE(cfg.at("use_rslora").get<bool>(), false);
        QCOMPARE(cfg.at("base_model_name_or_path").get<std::string>(), std::string("/models/tiny"));
        QVERIFY(cfg.contains("lora_dropout") && cfg.contains("inference_mode"));
        QVERIFY(!cfg.contains("qa_group_size"));
        QCOMPARE(r.loaded, r.adapted);
    }

    void peftCorruptAdapters_data()
    {
        QTest::addColumn<QString>("mode");
        QTest::addColumn<QString>("named");
        const QString q0 = "base_model.model.model.layers.0.self_attn.q_proj";
        QTest::newRow("missing lora_B") << "missing_b" << q0 + ".lora_B.weight";
        QTest::newRow("wrong shape") << "wrong_shape" << q0 + ".lora_A.weight";
        QTest::newRow("rank mismatch") << "rank_mismatch" << "r = 4";
        QTest::newRow("unknown module")
            << "unknown_module" << "base_model.model.model.layers.0.self_attn.qkv_proj";
    }

    void peftCorruptAdapters()
    {
        QFETCH(QString, mode);
        QFETCH(QString, named);
        const auto dir = qbtest::makeTempDir("lora-bad");
        qbprobe::peftRoundTrip(kModel, {"*.q_proj", "*.v_proj"}, dir.string());
        bool unchanged = false;
        const QString msg = QString::fromStdString(
            qbprobe::loadCorrupted(kModel, dir.string(), mode.toStdString(), unchanged));
        QVERIFY2(msg.contains("adapter_model.safetensors"), qPrintable(msg));
        QVERIFY2(msg.contains(named), qPrintable(msg));
        if (mode == "rank_mismatch")
            QVERIFY2(msg.contains("rank 2"), qPrintable(msg));
        QVERIFY(unchanged);
    }

    void denseMergeIsExact()
    {
        const auto r = qbprobe::mergeRun(kModel, "", false);
        QVERIFY2(relDiff(r.merged, r.adapted) < 1e-5,
                 qPrintable(QString::number(relDiff(r.merged, r.adapted))));
    }

    void quantizedMergeReportsError()
    {
        const auto r = qbprobe::mergeRun(
            kModel, R"({"method": "int", "bits": 4, "group_size": 32, "symmetric": false})", true);
        QCOMPARE(r.relErrors.size(), size_t(14)); // 7 per layer; lm_head only when named
        for (double e : r.relErrors)
            QVERIFY(e > 1e-3 && e < 0.5);
        QVERIFY(relDiff(r.merged, r.adapted) > 1e-6);
    }

    void qaLoraMergeMovesOnlyZeros()
    {
        const auto dir = qbtest::makeTempDir("qalora");
        const auto r = qbprobe::qaLoraRun(kModel, (dir / "merged").string());
        QVERIFY(relDiff(r.adapted, r.merged) < 1e-5);
        QVERIFY(r.codesUnchanged);
        QVERIFY(r.hasRealZeros);
        QCOMPARE(r.reloaded, r.merged);
    }

    void finishQatAgrees()
    {
        QVERIFY(qbprobe::finishQatDiff(
                    kModel, R"({"method": "int", "bits": 4, "group_size": 32, "symmetric": true})",
                    false)
                <= 1e-6);
        QVERIFY(qbprobe::finishQatDiff(kModel, R"({"method": "nf4", "block_size": 64})", false)
                <= 1e-6);
        QVERIFY(qbprobe::finishQatDiff(
                    kModel, R"({"method": "int", "bits": 4, "group_size": 32, "symmetric": false})",
                    true)
                <= 1e-6);
        // W4A4 per tensor: the packed ops quantize their inputs as the fake quantizer did.
        const double w4a4 = qbprobe::finishQatDiff(
            kModel,
            R"({"method": "int", "bits": 4, "group_size": -1, "symmetric": true, "act_bits": 4})",
            false);
        QVERIFY2(w4a4 <= 1e-5, std::to_string(w4a4).c_str());
    }
};

QTEST_GUILESS_MAIN(TestLora)
#include "tst_lora.moc"
