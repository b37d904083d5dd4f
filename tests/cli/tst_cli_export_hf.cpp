// quantbench-cli export as a user drives it: a run quantizes a random model with GPTQ
// (act-order, groups of 32), INT4 and AWQ; export writes them in the HF GPTQ / AWQ layouts,
// the safetensors headers are read here to check names, dtypes and shapes against the layouts,
// and further runs load the folders through model.load and measure them against the checkpoints
// they came from.
#include "support/cli_runner.h"

#include <nlohmann/json.hpp>

#include <QtTest>

#include <cstring>
#include <fstream>

namespace fs = std::filesystem;
using qbtest::str;

namespace {

qbtest::CliResult cli(const QStringList &args, const fs::path &cache)
{
    return qbtest::runCli(args, cache, {{}, {}, 300000});
}

// The JSON header of a .safetensors file (8-byte little-endian length, then JSON).
nlohmann::json safetensorsHeader(const fs::path &file)
{
    std::ifstream in(file, std::ios::binary);
    unsigned char len[8] = {};
    in.read(reinterpret_cast<char *>(len), 8);
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i)
        n = n << 8 | len[i];
    std::string text(n, '\0');
    in.read(text.data(), static_cast<std::streamsize>(n));
    return nlohmann::json::parse(text);
}

} // namespace

class TestCliExportHf : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void helpAndErrors()
    {
        const fs::path tmp = qbtest::makeTempDir("cli-hf-help");
        auto r = cli({"export", "gptq", "--help"}, tmp / "cache");
        QCOMPARE(r.code, 0);
        for (const char *opt : {"gptq|awq", "--model", "--out", "--dense", "max_scale_rel_change"})
            QVERIFY2(r.out.contains(opt), opt);
        r = cli({"export", "onnx", "--model", "x", "--out", "y"}, tmp / "cache");
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("unknown export format 'onnx' (gguf, gptq, awq)"), qPrintable(r.err));
        r = cli({"export", "gptq", "--model", str(tmp / "none"), "--out", str(tmp / "o")},
                tmp / "cache");
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("none: model folder does not exist"), qPrintable(r.err));
    }

    void exportsLoadBackThroughModelLoad()
    {
        const fs::path tmp = qbtest::makeTempDir("cli-hf");
        const fs::path proj = tmp / "q.yaml";
        qbtest::writeFile(
            proj,
            "schema_version: 1\nname: q\nseed: 5\nnodes:\n"
            "  - {id: m, type: model.random, params: {vocab_size: 64, hidden_size: 64, "
            "intermediate_size: 128, layers: 2, heads: 4, kv_heads: 2}}\n"
            "  - {id: gptq, type: quantize, inputs: {model: m}, params: {method: gptq, bits: 4, "
            "group_size: 32, act_order: true, calibration: {source: random, samples: 4, "
            "seq_len: 16}}}\n"
            "  - {id: rtn, type: quantize, inputs: {model: m}, params: {method: int, bits: 4, "
            "group_size: 32}}\n"
            "  - {id: awq, type: quantize, inputs: {model: m}, params: {method: awq, bits: 4, "
            "group_size: 32, shared_scales: true, calibration: {source: random, samples: 4, "
            "seq_len: 16}}}\n"
            "  - {id: awq_own, type: quantize, inputs: {model: m}, params: {method: awq, bits: 4, "
            "group_size: 32, calibration: {source: random, samples: 4, seq_len: 16}}}\n");
        auto r = cli({"run", str(proj), "--out", str(tmp / "run")}, tmp / "cache");
        QVERIFY2(r.code == 0, qPrintable(r.out + r.err));
        const fs::path ours = tmp / "run" / "nodes" / "gptq";
        const fs::path hf = tmp / "hf";
        r = cli({"export", "gptq", "--model", str(ours), "--out", str(hf)}, tmp / "cache");
        QVERIFY2(r.code == 0, qPrintable(r.out + r.err));
        const auto rep = nlohmann::json::parse(r.out.toStdString());
        QCOMPARE(rep["quantized_layers"].get<int>(), 14);
        const double rel = rep["max_scale_rel_change"].get<double>();
        QVERIFY2(rel > 0 && rel <= 1.0 / 2048, qPrintable(QString::number(rel)));
        QVERIFY(!fs::exists(tmp / "hf.partial"));

        const auto config = nlohmann::json::parse(qbtest::readFile(hf / "config.json"));
        const auto &qc = config["quantization_config"];
        QCOMPARE(qc["quant_method"].get<std::string>(), std::string("gptq"));
        QCOMPARE(qc["bits"].get<int>(), 4);
        QCOMPARE(qc["group_size"].get<int>(), 32);
        QCOMPARE(qc["desc_act"].get<bool>(), true);
        QCOMPARE(qc["sym"].get<bool>(), false);
        QCOMPARE(qc["damp_percent"].get<double>(), 0.01); // the quantize node's damp
        QCOMPARE(qc["checkpoint_format"].get<std::string>(), std::string("gptq"));
        QCOMPARE(config["torch_dtype"].get<std::string>(), std::string("float16"));

        // The layout by hand: q_proj 64 in -> 64 out, 4 bits: 64 * 4 / 32 = 8 qweight rows,
        // 2 groups, 64 * 4 / 32 = 8 qzeros words; k_proj has 2 kv heads x 16 = 32 outputs.
        const auto h = safetensorsHeader(hf / "model.safetensors");
        auto check = [&](const std::string &name, const char *dtype, std::vector<int64_t> shape) {
            QVERIFY2(h.contains(name), name.c_str());
            QCOMPARE(h[name]["dtype"].get<std::string>(), std::string(dtype));
            QCOMPARE(h[name]["shape"].get<std::vector<int64_t>>(), shape);
        };
        const std::string q = "model.layers.0.self_attn.q_proj.";
        const std::string k = "model.layers.1.self_attn.k_proj.";
        check(q + "qweight", "I32", {8, 64});
        check(q + "qzeros", "I32", {2, 8});
        check(q + "scales", "F16", {2, 64});
        check(q + "g_idx", "I32", {64});
        check(k + "qzeros", "I32", {2, 4});
        check("model.layers.1.mlp.down_proj.qweight", "I32", {16, 64});
        check("model.embed_tokens.weight", "F16", {64, 64});
        check("lm_head.weight", "F16", {64, 64});
        QVERIFY(!h.contains(q + "weight"));

        // Loaded back by model.load and compared layer by layer with the checkpoint it came from.
        const fs::path proj2 = tmp / "load.yaml";
        qbtest::writeFile(proj2,
                          "schema_version: 1\nname: load\nseed: 5\nnodes:\n"
                          "  - {id: ours, type: model.load, params: {path: " + ours.string()
                              + "}}\n"
                          "  - {id: hf, type: model.load, params: {path: " + hf.string() + "}}\n"
                          "  - {id: err, type: analyze.layer_error, inputs: {reference: ours, "
                          "quantized: hf}, params: {layer_kl: false}}\n");
        r = cli({"run", str(proj2), "--out", str(tmp / "run2")}, tmp / "cache");
        QVERIFY2(r.code == 0, qPrintable(r.out + r.err));
        const auto results = nlohmann::json::parse(qbtest::readFile(tmp / "run2" / "results.json"));
        int layers = 0;
        for (const auto &row : results["results"]) {
            if (row.value("analysis", "") != "layer_error.layer")
                continue;
            ++layers;
            // Every weight moved by at most 2^-11 relative (float16 scales, float16 norms and
            // embeddings), so the relative MSE of a weight is at most 2^-22 (2.4e-7).
            const double wmse = row["weight_rel_mse"].get<double>();
            QVERIFY2(wmse <= 1.0 / (1 << 22), qPrintable(QString::number(wmse)));
            const std::string kind = row["kind"].get<std::string>();
            if (row["name"].get<std::string>() == "lm_head")
                QCOMPARE(kind, std::string("dense"));
            else
                QVERIFY2(kind == "gptq-int4-g32-asym-act", kind.c_str());
        }
        QCOMPARE(layers, 15); // 14 quantized linears and the dense lm_head
        // model.load reports the folder's precision (its first quantized layer's kind); the
        // loaded ops hold as many bytes as the ones they were exported from.
        const auto &hfMeta = results["nodes"]["hf"]["meta"];
        QCOMPARE(hfMeta["precision"].get<std::string>(), std::string("gptq-int4-g32-asym-act"));
        QCOMPARE(hfMeta["weight_bytes"].get<int64_t>(),
                 results["nodes"]["ours"]["meta"]["weight_bytes"].get<int64_t>());

        // The round-to-nearest INT4 node in the AWQ layout: packed along out, no g_idx.
        const fs::path awq = tmp / "awq";
        r = cli({"export", "awq", "--model", str(tmp / "run" / "nodes" / "rtn"), "--out",
                 str(awq), "--dense", "f32"},
                tmp / "cache");
        QVERIFY2(r.code == 0, qPrintable(r.out + r.err));
        const auto awqConfig = nlohmann::json::parse(qbtest::readFile(awq / "config.json"));
        QCOMPARE(awqConfig["quantization_config"],
                 nlohmann::json::parse(R"({"quant_method": "awq", "bits": 4, "group_size": 32,
                                           "zero_point": true, "version": "gemm"})"));
        const auto ha = safetensorsHeader(awq / "model.safetensors");
        QCOMPARE(ha[q + "qweight"]["shape"].get<std::vector<int64_t>>(),
                 (std::vector<int64_t>{64, 8}));
        QCOMPARE(ha[q + "qzeros"]["shape"].get<std::vector<int64_t>>(),
                 (std::vector<int64_t>{2, 8}));
        QCOMPARE(ha[q + "scales"]["dtype"].get<std::string>(), std::string("F16"));
        QCOMPARE(ha["model.embed_tokens.weight"]["dtype"].get<std::string>(), std::string("F32"));
        QVERIFY(!ha.contains(q + "g_idx"));
        const fs::path proj3 = tmp / "load-awq.yaml";
        qbtest::writeFile(proj3,
                          "schema_version: 1\nname: load-awq\nseed: 5\nnodes:\n"
                          "  - {id: awq, type: model.load, params: {path: " + awq.string()
                              + "}}\n");
        r = cli({"run", str(proj3), "--out", str(tmp / "run3")}, tmp / "cache");
        QVERIFY2(r.code == 0, qPrintable(r.out + r.err));
        const auto results3
            = nlohmann::json::parse(qbtest::readFile(tmp / "run3" / "results.json"));
        QCOMPARE(results3["nodes"]["awq"]["meta"]["precision"].get<std::string>(),
                 std::string("awq-int4-g32-asym"));

        // AWQ proper: with shared_scales (AutoAWQ's one scale for q/k/v and one for gate/up;
        // o_proj unscaled under grouped-query attention, as AutoAWQ) every input scale folds:
        // q/k/v and gate/up into the norms, down_proj into up_proj.
        const fs::path awqShared = tmp / "awq-shared";
        r = cli({"export", "awq", "--model", str(tmp / "run" / "nodes" / "awq"), "--out",
                 str(awqShared)},
                tmp / "cache");
        QVERIFY2(r.code == 0, qPrintable(r.out + r.err));
        QCOMPARE(nlohmann::json::parse(r.out.toStdString())["folds"].size(), size_t(3 * 2));
        const fs::path proj4 = tmp / "load-awq-shared.yaml";
        qbtest::writeFile(proj4,
                          "schema_version: 1\nname: load-awq-shared\nseed: 5\nnodes:\n"
                          "  - {id: ours, type: model.load, params: {path: "
                              + (tmp / "run" / "nodes" / "awq").string() + "}}\n"
                          "  - {id: hf, type: model.load, params: {path: " + awqShared.string()
                              + "}}\n"
                          "  - {id: err, type: analyze.layer_error, inputs: {reference: ours, "
                          "quantized: hf}, params: {layer_kl: false}}\n");
        r = cli({"run", str(proj4), "--out", str(tmp / "run4")}, tmp / "cache");
        QVERIFY2(r.code == 0, qPrintable(r.out + r.err));
        const auto results4
            = nlohmann::json::parse(qbtest::readFile(tmp / "run4" / "results.json"));
        int modelRows = 0;
        for (const auto &row : results4["results"])
            if (row.value("analysis", "") == "layer_error.model") {
                ++modelRows;
                // The folds move scales between layers (the two models' layers differ one by
                // one) but not the function: only float16 rounding separates the outputs.
                const double kl = row["kl_mean"].get<double>();
                QVERIFY2(kl < 1e-6, qPrintable(QString::number(kl)));
                qInfo("AWQ export vs its checkpoint: mean KL %.3g nats", kl);
            }
        QCOMPARE(modelRows, 1);
        // Without shared scales q/k/v disagree, and the message says why.
        r = cli({"export", "awq", "--model", str(tmp / "run" / "nodes" / "awq_own"), "--out",
                 str(tmp / "awq-own")},
                tmp / "cache");
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("its AWQ input scale differs from that of the other layers "
                                "reading model.layers.0.input_layernorm.weight"),
                 qPrintable(r.err));
    }
};

QTEST_GUILESS_MAIN(TestCliExportHf)
#include "tst_cli_export_hf.moc"
