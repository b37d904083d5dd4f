// quantbench-cli export gguf as a user runs it: the shipped built-in reasoner written as f32 and
// q8_0 GGUF files (report checked against config.json: one tensor per norm and projection, tied
// embeddings without "output"), then an experiment that loads the .gguf files with model.load and
// evaluates them beside the original folder: the f32 file answers exactly like the folder.
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

QString q(const fs::path &p) { return QString::fromStdString(p.string()); }

} // namespace

class TestCliExport : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void helpAndBadOptions()
    {
        const fs::path tmp = qbtest::makeTempDir("cli-export");
        auto r = cli({"export", "--help"}, tmp);
        QVERIFY2(r.code == 0 && r.out.contains("gguf"), qPrintable(r.out));
        r = cli({"export", "gguf", "--help"}, tmp);
        QVERIFY2(r.code == 0 && r.out.contains("--type T"), qPrintable(r.out));
        r = cli({"export", "onnx"}, tmp);
        QVERIFY2(r.code == 2 && r.err.contains("unknown export format 'onnx'"), qPrintable(r.err));
        r = cli({"export", "gguf", "--model", "builtin", "--out", q(tmp / "x.gguf"), "--type",
                 "q5_k"},
                tmp);
        QVERIFY2(r.code == 2 && r.err.contains("'q5_k' is unknown"), qPrintable(r.err));
        r = cli({"export", "gguf", "--model", q(tmp / "nope"), "--out", q(tmp / "x.gguf")}, tmp);
        QVERIFY2(r.code == 1 && r.err.contains("nope"), qPrintable(r.err));
        QVERIFY(!fs::exists(tmp / "x.gguf"));
    }

    void builtinExportLoadsAndEvaluates()
    {
        const fs::path src = qbtest::sourceDir() / "resources" / "tiny-reasoner";
        if (!fs::exists(src / "model.safetensors"))
            QSKIP("shipped tiny-reasoner weights are absent");
        const fs::path tmp = qbtest::makeTempDir("cli-export");
        const json c = json::parse(qbtest::readFile(src / "config.json"));
        const int64_t layers = c["num_hidden_layers"];
        for (const char *type : {"f32", "q8_0"}) {
            const fs::path out = tmp / (std::string("tiny-") + type + ".gguf");
            const fs::path rep = tmp / (std::string("tiny-") + type + ".json");
            const auto r = cli({"export", "gguf", "--model", q(src), "--out", q(out), "--type",
                                type, "--json", q(rep)},
                               tmp / "cache");
            QVERIFY2(r.code == 0, qPrintable(r.out + r.err));
            QVERIFY(fs::exists(out));
            const json report = json::parse(qbtest::readFile(rep));
            QCOMPARE(report["architecture"].get<std::string>(), std::string("llama"));
            // token_embd, output_norm, and per layer 2 norms + 7 projections; tied: no output.
            QCOMPARE(int64_t(report["tensors"].size()), 2 + 9 * layers);
            QCOMPARE(report["file_bytes"].get<int64_t>(), int64_t(fs::file_size(out)));
            for (const auto &t : report["tensors"]) {
                const std::string name = t["name"];
                QVERIFY(name != "output.weight");
                const double err = t["rel_error"];
                const bool linear = name.find("norm") == std::string::npos
                    && name != "token_embd.weight"; // norms and token_embd stay f32
                if (std::string(type) == "f32" || !linear)
                    QCOMPARE(err, 0.0);
                else // 8-bit blocks of 32: well under 1%, never exact on trained weights
                    QVERIFY2(err > 0 && err < 0.01, name.c_str());
            }
        }

        // model.load takes the .gguf files; the f32 one answers exactly like the folder.
        const fs::path proj = tmp / "eval.yaml";
        qbtest::writeFile(
            proj,
            "schema_version: 1\nname: gguf-eval\nseed: 1\nnodes:\n"
            "  - {id: folder, type: model.load, params: {path: " + src.string() + "}}\n"
            "  - {id: f32, type: model.load, params: {path: " + (tmp / "tiny-f32.gguf").string()
                + "}}\n"
            "  - {id: q8, type: model.load, params: {path: " + (tmp / "tiny-q8_0.gguf").string()
                + "}}\n"
            "  - {id: gsm, type: dataset.gsm8k, params: {source: synthetic, split: test, "
            "limit: 12}}\n"
            "  - {id: ev, type: evaluate, inputs: {models: [folder, f32, q8], datasets: [gsm]}, "
            "params: {batch_size: 12, decoding: {strategy: greedy, max_new_tokens: 96}}}\n");
        const fs::path run = tmp / "run";
        const auto r = cli({"run", q(proj), "--out", q(run)}, tmp / "cache");
        QVERIFY2(r.code == 0, qPrintable(r.out + r.err));
        const json results = json::parse(qbtest::readFile(run / "results.json"));
        std::map<std::string, json> rows;
        for (const auto &row : results["results"])
            if (row.contains("accuracy"))
                rows[row.value("model", row.value("label", ""))] = row;
        QVERIFY2(rows.size() == 3, results.dump().c_str());
        std::vector<double> acc;
        for (const auto &[id, row] : rows)
            acc.push_back(row["accuracy"].get<double>());
        QVERIFY2(rows.count("folder") && rows.count("f32") && rows.count("q8"),
                 results.dump().c_str());
        QCOMPARE(rows["f32"]["accuracy"].get<double>(), rows["folder"]["accuracy"].get<double>());
        QVERIFY(rows["folder"]["accuracy"].get<double>() > 0.5); // the shipped model works
        QVERIFY(rows["q8"]["accuracy"].get<double>()
                >= rows["folder"]["accuracy"].get<double>() - 0.25);
        QCOMPARE(rows["q8"]["precision"].get<std::string>(), std::string("q8_0"));
    }
};

QTEST_GUILESS_MAIN(TestCliExport)
#include "tst_cli_export.moc"
