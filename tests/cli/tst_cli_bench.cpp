// quantbench-cli bench model as a user runs it: the speed table per precision of the built-in
// reasoner (--quick), its JSON rows checked against the model's architecture (config.json) and
// the parameter count its training recorded, a project file's model node, and clear errors for a
// bad precision and a bad path. No timing assertions: rates only have to be positive.
#include "support/cli_runner.h"

#include <nlohmann/json.hpp>

#include <QtTest>

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

qbtest::CliResult cli(const QStringList &args, const fs::path &cache)
{
    return qbtest::runCli(args, cache, {{}, {}, 600000});
}

QString path(const fs::path &p) { return QString::fromStdString(p.string()); }

const json *rowOf(const json &report, const std::string &precision)
{
    for (const auto &r : report["rows"])
        if (r["precision"] == precision)
            return &r;
    return nullptr;
}

} // namespace

class TestCliBench : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void builtinModelTablePerPrecision()
    {
        const fs::path tmp = qbtest::makeTempDir("cli-bench");
        const fs::path out = tmp / "model.json";
        const auto r = cli({"bench", "model", "builtin:tiny-reasoner", "--quick", "--batch", "8",
                            "--json", path(out)},
                           tmp / "cache");
        QVERIFY2(r.code == 0, qPrintable(r.out + r.err));
        QVERIFY2(r.out.contains("| precision | weights MiB"), qPrintable(r.out));
        QVERIFY(r.err.contains("nf4-dq: decode batch 8"));
        const json report = json::parse(qbtest::readFile(out));

        // The architecture, read independently of the code under test.
        const fs::path shipped = qbtest::sourceDir() / "resources" / "tiny-reasoner";
        const json c = json::parse(qbtest::readFile(shipped / "config.json"));
        const int64_t hidden = c["hidden_size"], inter = c["intermediate_size"];
        const int64_t layers = c["num_hidden_layers"], headDim = c["head_dim"];
        const int64_t q = int64_t(c["num_attention_heads"]) * headDim;
        const int64_t kv = int64_t(c["num_key_value_heads"]) * headDim;
        QVERIFY(c["tie_word_embeddings"].get<bool>()); // lm_head is the embedding: not quantized
        // q, k, v, o, gate, up, down: parameters and output channels per layer.
        const int64_t linearParams
            = layers * (hidden * q + 2 * hidden * kv + q * hidden + 3 * hidden * inter);
        const int64_t outChannels = layers * (q + 2 * kv + hidden + 2 * inter + hidden);
        const int64_t parameters
            = json::parse(qbtest::readFile(shipped / "training.json"))["parameters"];

        const std::vector<std::string> expected{"fp32",     "int8",      "llm_int8",
                                                "nf4-b64",  "nf4-dq",    "int4-g128",
                                                "int3-g128", "int2-g64"};
        QCOMPARE(report["rows"].size(), expected.size());
        for (size_t i = 0; i < expected.size(); ++i)
            QCOMPARE(report["rows"][i]["precision"].get<std::string>(), expected[i]);

        const json &fp32 = *rowOf(report, "fp32");
        QCOMPARE(fp32["weight_bytes"].get<int64_t>(), 4 * parameters);
        QCOMPARE(fp32["bits_per_weight"].get<double>(), 32.0);
        for (const auto &row : report["rows"]) {
            const std::string p = row["precision"];
            QCOMPARE(row["linear_parameters"].get<int64_t>(), linearParams);
            // The model's bytes: fp32 everywhere except the quantized linears' stored bytes.
            QCOMPARE(row["weight_bytes"].get<int64_t>(),
                     4 * (parameters - linearParams) + row["linear_weight_bytes"].get<int64_t>());
            QVERIFY2(row["prefill_tokens_per_second"].get<double>() > 0, p.c_str());
            QVERIFY2(row["decode_tokens_per_second_batch1"].get<double>() > 0, p.c_str());
            QVERIFY2(row["decode_tokens_per_second_batch"].get<double>() > 0, p.c_str());
            QVERIFY2(row["peak_rss_bytes"].get<int64_t>() > row["weight_bytes"].get<int64_t>(),
                     p.c_str());
        }
        // int8 per output channel: one byte a weight and one float32 scale a channel.
        const json &int8 = *rowOf(report, "int8");
        QCOMPARE(int8["linear_weight_bytes"].get<int64_t>(), linearParams + 4 * outChannels);
        QCOMPARE(rowOf(report, "llm_int8")->at("linear_weight_bytes").get<int64_t>(),
                 linearParams + 4 * outChannels);
        // Bits per weight from each format's definition.
        auto bits = [&](const std::string &p) {
            return rowOf(report, p)->at("bits_per_weight").get<double>();
        };
        QVERIFY(qFuzzyCompare(bits("int8"), 8.0 + 32.0 * outChannels / linearParams));
        QVERIFY(qFuzzyCompare(bits("nf4-b64"), 4.0 + 32.0 / 64)); // float32 absmax per 64
        QVERIFY(bits("nf4-dq") > 4.1 && bits("nf4-dq") < 4.2);   // 8-bit absmax per 64 + scales
        // Group-wise asymmetric: a float32 scale and an 8-bit zero point per group.
        QVERIFY(qFuzzyCompare(bits("int4-g128"), 4.0 + 40.0 / 128));
        QVERIFY(bits("int3-g128") >= 3.0 + 40.0 / 128 && bits("int3-g128") < 4.0 + 40.0 / 128);
        QVERIFY(qFuzzyCompare(bits("int2-g64"), 2.0 + 40.0 / 64));
        QCOMPARE(rowOf(report, "nf4-dq")->at("label").get<std::string>(),
                 std::string("nf4-dq-b64"));
        QVERIFY(rowOf(report, "int8")->at("decode_batch1_vs_fp32").get<double>() > 0);
    }

    void namedSettingsAndProjectModelNode()
    {
        const fs::path tmp = qbtest::makeTempDir("cli-bench");
        const fs::path out = tmp / "smoke.json";
        const auto project = qbtest::sourceDir() / "projects" / "smoke.yaml";
        const auto r = cli({"bench", "model", path(project), "--quick", "--batch", "4",
                            "--precisions", "int bits=4 group_size=32, nf4-dq-b64",
                            "--json", path(out)},
                           tmp / "cache");
        QVERIFY2(r.code == 0, qPrintable(r.out + r.err));
        const json report = json::parse(qbtest::readFile(out));
        QCOMPARE(report["rows"].size(), size_t(3));
        QCOMPARE(report["rows"][0]["label"].get<std::string>(), std::string("fp32"));
        QCOMPARE(report["rows"][1]["label"].get<std::string>(), std::string("int4-g32-asym"));
        QCOMPARE(report["rows"][1]["method"]["group_size"].get<int>(), 32);
        QCOMPARE(report["rows"][2]["precision"].get<std::string>(), std::string("nf4-dq-b64"));
        // smoke.yaml's model.random: 2 layers of hidden 64, intermediate 172, 4 heads, 2 kv heads.
        const int64_t linearParams = 2 * (64 * 64 + 2 * 64 * 32 + 64 * 64 + 3 * 64 * 172);
        QCOMPARE(report["rows"][1]["linear_parameters"].get<int64_t>(), linearParams);
        // INT4 g32 asym: ceil(in 4 / 8) bytes of codes a row, a float32 scale and a byte of zero
        // point per group of 32 (the last group of down_proj's 172 inputs is partial).
        auto bytes = [](int64_t out, int64_t in) {
            return out * ((in * 4 + 7) / 8 + (in + 31) / 32 * 5);
        };
        const int64_t int4 = 2 * (bytes(64, 64) + 2 * bytes(32, 64) + bytes(64, 64)
                                  + 2 * bytes(172, 64) + bytes(64, 172));
        QCOMPARE(report["rows"][1]["linear_weight_bytes"].get<int64_t>(), int4);
    }

    // fp32-bf16: the same float32 weights measured with bf16 compute, a row of its own beside
    // fp32 (its ratios against fp32's), or a clear refusal on a CPU without AVX-512 BF16.
    void bf16ComputeRow()
    {
        const fs::path tmp = qbtest::makeTempDir("cli-bench");
        const fs::path out = tmp / "bf16.json";
        const auto project = qbtest::sourceDir() / "projects" / "smoke.yaml";
        const auto info
            = qbtest::runCli({"info"}, tmp / "cache", {{}, {}, 60000, {{"QB_COMPUTE_BF16", "1"}}});
        const bool supported = info.out.contains("arithmetic: bf16");
        const auto r = cli({"bench", "model", path(project), "--quick", "--batch", "4",
                            "--precisions", "fp32-bf16", "--json", path(out)},
                           tmp / "cache");
        if (!supported) {
            QCOMPARE(r.code, 1);
            QVERIFY2(r.err.contains("fp32-bf16") && r.err.contains("AVX-512 BF16"),
                     qPrintable(r.err));
            QSKIP("no AVX-512 BF16 here: the refusal was checked");
        }
        QVERIFY2(r.code == 0, qPrintable(r.out + r.err));
        const json report = json::parse(qbtest::readFile(out));
        QCOMPARE(report["rows"].size(), size_t(2));
        QCOMPARE(report["rows"][0]["label"].get<std::string>(), std::string("fp32"));
        QCOMPARE(report["rows"][1]["label"].get<std::string>(), std::string("fp32-bf16"));
        QCOMPARE(report["rows"][1]["weight_bytes"].get<int64_t>(),
                 report["rows"][0]["weight_bytes"].get<int64_t>());
        QVERIFY(report["rows"][1]["decode_batch1_vs_fp32"].get<double>() > 0);
    }

    void huggingFaceFolderWithItsOwnTokenizer()
    {
        // A model folder as users bring them: HF layout, Qwen2's byte-level BPE tokenizer files.
        const fs::path tmp = qbtest::makeTempDir("cli-bench");
        const fs::path model = qbtest::qwenLikeModel(
            tmp, "qwen-like", "hidden_size: 32, intermediate_size: 64, layers: 2, heads: 4, "
                              "kv_heads: 2, max_positions: 512");
        if (model.empty())
            QSKIP("../shared/data/tokenizers/qwen2 is absent");
        qbtest::CliResult r;
        const fs::path out = tmp / "hf.json";
        r = cli({"bench", "model", path(model), "--quick", "--batch", "2", "--new-tokens", "4",
                 "--prefill-tokens", "32", "--precisions", "int8", "--json", path(out)},
                tmp / "cache");
        QVERIFY2(r.code == 0, qPrintable(r.out + r.err));
        const json report = json::parse(qbtest::readFile(out));
        QCOMPARE(report["rows"].size(), size_t(2));
        // 2 layers of q, k, v, o (32x32, 16x32, 16x32, 32x32) and gate, up, down (64x32, 32x64).
        const int64_t linearParams = 2 * (32 * 32 * 2 + 16 * 32 * 2 + 3 * 32 * 64);
        const json *int8 = rowOf(report, "int8");
        QVERIFY(int8);
        QCOMPARE(int8->at("linear_parameters").get<int64_t>(), linearParams);
        // int8: a byte a weight and a float32 scale per output channel.
        const int64_t outChannels = 2 * (32 + 16 + 16 + 32 + 64 + 64 + 32);
        QCOMPARE(int8->at("linear_weight_bytes").get<int64_t>(), linearParams + 4 * outChannels);
        QVERIFY(int8->at("decode_tokens_per_second_batch1").get<double>() > 0);
        QVERIFY(int8->at("prefill_tokens_per_second").get<double>() > 0);
    }

    void quantizedFolderMeasuredAsLoaded()
    {
        // A quantize node's checkpoint: measured as it is, beside its weights dequantized.
        const fs::path tmp = qbtest::makeTempDir("cli-bench");
        qbtest::writeFile(tmp / "q.yaml",
                          "schema_version: 1\nname: q\nseed: 5\nnodes:\n"
                          "  - {id: m, type: model.random, params: {vocab_size: 256, "
                          "hidden_size: 64, intermediate_size: 128, layers: 2, heads: 4, "
                          "kv_heads: 2}}\n"
                          "  - {id: q8, type: quantize, inputs: {model: m}, params: {method: int8}}\n");
        auto r = cli({"run", path(tmp / "q.yaml"), "--out", path(tmp / "run")}, tmp / "cache");
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const fs::path model = tmp / "run" / "nodes" / "q8";
        const fs::path out = tmp / "q8.json";
        r = cli({"bench", "model", path(model), "--quick", "--batch", "2", "--new-tokens", "4",
                 "--prefill-tokens", "16", "--json", path(out)},
                tmp / "cache");
        QVERIFY2(r.code == 0, qPrintable(r.out + r.err));
        QVERIFY(r.err.contains("measured as loaded"));
        const json report = json::parse(qbtest::readFile(out));
        QCOMPARE(report["rows"].size(), size_t(2));
        const json &fp32 = report["rows"][0], &q8 = report["rows"][1];
        QCOMPARE(fp32["label"].get<std::string>(), std::string("fp32"));
        // 2 layers of q, o (64x64), k, v (32x64), gate, up (128x64), down (64x128).
        const int64_t params = 2 * (2 * 64 * 64 + 2 * 32 * 64 + 3 * 64 * 128);
        const int64_t outChannels = 2 * (64 + 32 + 32 + 64 + 128 + 128 + 64);
        QCOMPARE(fp32["linear_weight_bytes"].get<int64_t>(), 4 * params);
        QCOMPARE(q8["linear_parameters"].get<int64_t>(), params);
        // int8 as stored: a byte a weight, a float32 scale per output channel.
        QCOMPARE(q8["linear_weight_bytes"].get<int64_t>(), params + 4 * outChannels);
        QVERIFY(q8["decode_tokens_per_second_batch1"].get<double>() > 0);
        // Its precisions are what it is: asking for others is refused, naming why.
        r = cli({"bench", "model", path(model), "--precisions", "nf4-dq"}, tmp / "cache");
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("measured as loaded; --precisions needs a dense folder"),
                 qPrintable(r.err));
    }

    void badPrecisionAndBadPathFailClearly()
    {
        const fs::path tmp = qbtest::makeTempDir("cli-bench");
        auto r = cli({"bench", "model", "builtin", "--precisions", "int8,nf5"}, tmp / "cache");
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("precision 'nf5'") && r.err.contains("nf4"), qPrintable(r.err));
        r = cli({"bench", "model", "builtin", "--precisions", "int bits=4 grp=2"}, tmp / "cache");
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("unknown key 'grp'"), qPrintable(r.err));
        r = cli({"bench", "model", "builtin", "--precisions", "int8,,nf4-dq"}, tmp / "cache");
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("empty item"), qPrintable(r.err));
        const fs::path missing = tmp / "no-such-model";
        r = cli({"bench", "model", path(missing)}, tmp / "cache");
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains(path(missing)) && r.err.contains("no such model folder"),
                 qPrintable(r.err));
        r = cli({"bench", "model"}, tmp / "cache");
        QCOMPARE(r.code, 2);
        r = cli({"bench", "model", "--help"}, tmp / "cache");
        QCOMPARE(r.code, 0);
        QVERIFY(r.out.contains("--precisions LIST"));
    }
};

QTEST_GUILESS_MAIN(TestCliBench)
#include "tst_cli_bench.moc"
