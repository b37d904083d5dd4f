// quantbench-cli as a user drives it: help, exit codes, a headless run of the smoke project with
// its run folder, resume from cache, and clear errors for bad experiment files.
#include "support/cli_runner.h"

#include <nlohmann/json.hpp>

#include <QtTest>

namespace fs = std::filesystem;

namespace {

qbtest::CliResult cli(const QStringList &args, const fs::path &cache, const fs::path &cwd = {})
{
    return qbtest::runCli(args, cache, {cwd, {}, 120000});
}

QString smokeProject()
{
    return QString::fromStdString((qbtest::sourceDir() / "projects" / "smoke.yaml").string());
}

} // namespace

class TestCli : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void helpAndUsage()
    {
        const fs::path tmp = qbtest::makeTempDir("cli");
        auto r = cli({"--help"}, tmp);
        QCOMPARE(r.code, 0);
        QVERIFY(r.out.contains("run "));
        r = cli({"run", "--help"}, tmp);
        QCOMPARE(r.code, 0);
        QVERIFY(r.out.contains("--out DIR"));
        r = cli({"frobnicate"}, tmp);
        QCOMPARE(r.code, 2);
        QVERIFY(r.err.contains("unknown command 'frobnicate'"));
        r = cli({"run", smokeProject(), "--bogus"}, tmp);
        QCOMPARE(r.code, 2);
        QVERIFY(r.err.contains("unknown option --bogus"));
    }

    void runsSmokeProjectAndResumesFromCache()
    {
        const fs::path tmp = qbtest::makeTempDir("cli");
        const fs::path out = tmp / "run1";
        auto r = cli({"run", smokeProject(), "--out", QString::fromStdString(out.string())},
                     tmp / "cache");
        QVERIFY2(r.code == 0, qPrintable(r.out + r.err));
        QVERIFY(r.out.contains("run ok"));
        const auto results = nlohmann::json::parse(qbtest::readFile(out / "results.json"));
        QCOMPARE(results["status"].get<std::string>(), std::string("ok"));
        QCOMPARE(results["results"][0]["generated_tokens"].get<int>(), 48); // 2 prompts x 24
        QVERIFY(fs::exists(out / "nodes" / "gen" / "completions.jsonl"));
        QVERIFY(fs::exists(out / "events.jsonl"));
        QVERIFY(fs::exists(out / "experiment.yaml"));

        const fs::path out2 = tmp / "run2";
        r = cli({"run", smokeProject(), "--out", QString::fromStdString(out2.string())}, tmp / "cache");
        QCOMPARE(r.code, 0);
        QVERIFY2(r.out.contains("tiny: cached") && r.out.contains("gen: cached"), qPrintable(r.out));
        // Same seed, same threads: the same completions, byte for byte.
        QCOMPARE(qbtest::readFile(out2 / "nodes" / "gen" / "completions.jsonl"),
                 qbtest::readFile(out / "nodes" / "gen" / "completions.jsonl"));

        r = cli({"run", smokeProject(), "--out", QString::fromStdString(out.string())}, tmp / "cache");
        QCOMPARE(r.code, 1);
        QVERIFY(r.err.contains("already exists"));
    }

    void badExperimentFileNamesFileAndLine()
    {
        const fs::path tmp = qbtest::makeTempDir("cli");
        const fs::path bad = tmp / "bad.yaml";
        qbtest::writeFile(bad, "schema_version: 1\nname: x\nnodes:\n"
                               "  - {id: m, type: model.random, params: {layers: many}}\n");
        auto r = cli({"run", QString::fromStdString(bad.string())}, tmp / "cache", tmp);
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("bad.yaml:4: nodes[0].params.layers: expected an integer, got 'many'"),
                 qPrintable(r.err));
        QVERIFY(!fs::exists(tmp / "runs")); // nothing was started
        r = cli({"run", QString::fromStdString((tmp / "missing.yaml").string())}, tmp / "cache");
        QCOMPARE(r.code, 1);
        QVERIFY(r.err.contains("missing.yaml: cannot open"));
        r = cli({"validate", smokeProject()}, tmp / "cache");
        QCOMPARE(r.code, 0);
        QVERIFY(r.out.contains("order: tiny gen"));
    }

    void failingNodeGivesNonZeroExitAndKeepsRunFolder()
    {
        const fs::path tmp = qbtest::makeTempDir("cli");
        const fs::path proj = tmp / "fail.yaml";
        qbtest::writeFile(proj, "schema_version: 1\nname: f\nnodes:\n"
                                "  - {id: m, type: model.load, params: {path: /nonexistent/model}}\n");
        const fs::path out = tmp / "run";
        auto r = cli({"run", QString::fromStdString(proj.string()), "--out",
                      QString::fromStdString(out.string())}, tmp / "cache");
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("node 'm' (model.load): /nonexistent/model: model folder does not exist"),
                 qPrintable(r.err));
        const auto results = nlohmann::json::parse(qbtest::readFile(out / "results.json"));
        QCOMPARE(results["status"].get<std::string>(), std::string("failed"));
    }

    void infoReportsOpenBlasAndThreads()
    {
        const fs::path tmp = qbtest::makeTempDir("cli");
        auto r = cli({"info", "--threads", "2"}, tmp);
        QVERIFY2(r.code == 0, qPrintable(r.out + r.err));
        QVERIFY(r.out.contains("threads: 2"));
        QVERIFY(r.out.contains("openblas: yes"));
    }
};

QTEST_GUILESS_MAIN(TestCli)
#include "tst_cli.moc"
