// The main window end to end: YAML round trip through the editor, load errors that never crash,
// a real run of projects/smoke.yaml (node states, live chart data, cache hits on the second run),
// cancel, close during a run, run history and report export, and a micro analysis project whose
// layer-error, weight-histogram and sensitivity charts fill live and again from run history.
#include "support/test_support.h"
#include "ui/chart_set.h"
#include "ui/graph_model.h"
#include "ui/main_window.h"
#include "ui/qcp.h"

#include <QDir>
#include <QFile>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTest>

#include <cmath>

namespace fs = std::filesystem;
using nlohmann::json;

// QCOMPARE cannot take nlohmann::json (its conversion templates trip Qt's type traits).
#define QCOMPARE_JSON(actual, expected)                                                         \
    do {                                                                                        \
        const json a_ = (actual);                                                               \
        const json e_ = (expected);                                                             \
        QVERIFY2(a_ == e_, qPrintable(QString::fromStdString(a_.dump() + " != " + e_.dump()))); \
    } while (false)
using qbui::NodeStatus;

namespace {

// The smoke project's generate node made to run for seconds: 256 prompts of 400 new tokens.
void setLongGeneration(qbui::MainWindow &w)
{
    w.model()->setParam("gen", {"decoding", "max_new_tokens"}, 400);
    w.model()->setParam("gen", {"prompts"},
                        json(std::vector<std::string>(256, "Question: 2 + 3 =")));
}

} // namespace

class TestMainWindow : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        m_tmp = qbtest::makeTempDir("ui_main_window");
        qputenv("QB_CACHE_DIR", QByteArray::fromStdString((m_tmp / "cache").string()));
        // Runs go to runs/ under the current folder.
        QDir::setCurrent(QString::fromStdString(m_tmp.string()));
        m_smoke = QString::fromStdString((qbtest::sourceDir() / "projects/smoke.yaml").string());
    }

    void yamlRoundTripThroughEditor()
    {
        qbui::MainWindow w;
        w.setInteractive(false);
        QVERIFY(w.openFile(m_smoke));
        QVERIFY(!w.isWindowModified());
        const auto &reg = qb::builtinRegistry();
        const qb::Experiment original = qb::loadExperiment(m_smoke.toStdString(), reg);

        const QString plain = QString::fromStdString((m_tmp / "plain.yaml").string());
        QVERIFY(w.saveFile(plain));
        const qb::Experiment saved = qb::loadExperiment(plain.toStdString(), reg);
        QCOMPARE(saved.name, std::string("smoke"));
        QCOMPARE(saved.seed, uint64_t(1234));
        QCOMPARE(saved.nodes.size(), original.nodes.size());
        for (size_t i = 0; i < saved.nodes.size(); ++i) {
            QCOMPARE(saved.nodes[i].id, original.nodes[i].id);
            QCOMPARE(saved.nodes[i].type, original.nodes[i].type);
            QCOMPARE(saved.nodes[i].inputs, original.nodes[i].inputs);
            QCOMPARE(saved.nodes[i].params.dump(), original.nodes[i].params.dump());
        }
        QCOMPARE(saved.layout, original.layout);
        QCOMPARE(saved.layout.at("gen"), (std::array<double, 2>{260, 0}));

        // Edits made in the editor reach the file.
        w.model()->setParam("gen", {"decoding", "max_new_tokens"}, 12);
        w.model()->moveNodes({{"gen", QPointF(300, 40)}});
        QVERIFY(w.isWindowModified());
        QVERIFY(w.windowTitle().contains("[*]"));
        const QString edited = QString::fromStdString((m_tmp / "edited.yaml").string());
        QVERIFY(w.saveFile(edited));
        QVERIFY(!w.isWindowModified());
        const qb::Experiment e = qb::loadExperiment(edited.toStdString(), reg);
        QCOMPARE_JSON(e.find("gen")->params["decoding"]["max_new_tokens"], json(12));
        QCOMPARE_JSON(e.find("gen")->params["decoding"]["strategy"], json("greedy"));
        QCOMPARE(e.layout.at("gen"), (std::array<double, 2>{300, 40}));
        QCOMPARE_JSON(e.find("tiny")->params["hidden_size"], json(64));
    }

    void loadErrorsAreReportedNotThrown()
    {
        qbui::MainWindow w;
        w.setInteractive(false);
        const fs::path bad = m_tmp / "bad.yaml";
        qbtest::writeFile(bad, "schema_version: 1\nname: bad\nnodes:\n"
                               "  - {id: a, type: model.random, params: {no_such_key: 1}}\n");
        QVERIFY(!w.openFile(QString::fromStdString(bad.string())));
        QVERIFY2(w.lastError().contains("no_such_key"), qPrintable(w.lastError()));
        QVERIFY(!w.openFile(QString::fromStdString((m_tmp / "missing.yaml").string())));
        QVERIFY(!w.lastError().isEmpty());
        QVERIFY(w.model()->experiment().nodes.empty()); // still the empty experiment
    }

    void runSmokeProject()
    {
        qbui::MainWindow w;
        w.setInteractive(false);
        QVERIFY(w.openFile(m_smoke));
        QVERIFY(w.startRun());
        QVERIFY(w.isRunning());
        QVERIFY(!w.startRun()); // one run at a time
        QTRY_VERIFY_WITH_TIMEOUT(!w.isRunning(), 120000);
        QCOMPARE(w.lastSummary().status, std::string("ok"));
        QCOMPARE(qbui::toString(w.nodeState("tiny").status), QString("done"));
        QCOMPARE(qbui::toString(w.nodeState("gen").status), QString("done"));
        // The generate node reports one tokens/s point; it must be a real, positive rate.
        auto *metrics = w.charts()->metrics();
        QCOMPARE(metrics->pointCount("gen", "tokens_per_second"), 1);
        QVERIFY(w.logText().contains("gen: done"));
        const QString runDir = QString::fromStdString(w.lastSummary().runDir.string());
        QVERIFY(QFile::exists(runDir + "/events.jsonl"));
        QVERIFY(QFile::exists(runDir + "/results.json"));
        m_runDir = QDir(runDir).absolutePath();

        // Same experiment again: both nodes come from the cache, in a new folder.
        QVERIFY(w.startRun());
        QTRY_VERIFY_WITH_TIMEOUT(!w.isRunning(), 60000);
        QCOMPARE(w.lastSummary().status, std::string("ok"));
        QCOMPARE(qbui::toString(w.nodeState("tiny").status), QString("cached"));
        QCOMPARE(qbui::toString(w.nodeState("gen").status), QString("cached"));
        QVERIFY(QString::fromStdString(w.lastSummary().runDir.string()) != runDir);

        // An edit marks the node and everything downstream stale; undo brings the states back.
        w.model()->setParam("gen", {"decoding", "max_new_tokens"}, 5);
        QCOMPARE(qbui::toString(w.nodeState("tiny").status), QString("cached"));
        QCOMPARE(qbui::toString(w.nodeState("gen").status), QString("stale (will re-run)"));
        w.model()->setParam("tiny", {"init_seed"}, 9);
        QCOMPARE(qbui::toString(w.nodeState("tiny").status), QString("stale (will re-run)"));
        w.model()->undoStack()->undo();
        w.model()->undoStack()->undo();
        QCOMPARE(qbui::toString(w.nodeState("tiny").status), QString("cached"));
        QCOMPARE(qbui::toString(w.nodeState("gen").status), QString("cached"));
        w.model()->moveNodes({{"gen", QPointF(500, 40)}}); // layout is not part of what runs
        QCOMPARE(qbui::toString(w.nodeState("gen").status), QString("cached"));

        // Up to the model node only: gen is not part of the run.
        QVERIFY(w.startRun("tiny"));
        QTRY_VERIFY_WITH_TIMEOUT(!w.isRunning(), 60000);
        QCOMPARE(qbui::toString(w.nodeState("tiny").status), QString("cached"));
        QCOMPARE(qbui::toString(w.nodeState("gen").status), QString("idle"));
    }

    void cancelStopsTheRun()
    {
        qbui::MainWindow w;
        w.setInteractive(false);
        QVERIFY(w.openFile(m_smoke));
        // Long enough to be caught running (256 prompts of 400 tokens: ~2 s; two prompts took
        // 48 ms once generation got faster, and the run ended before the cancel); a new seed
        // keeps it out of the cache.
        setLongGeneration(w);
        w.model()->setExperimentInfo("cancel", 99);
        QVERIFY(w.startRun());
        QTRY_VERIFY_WITH_TIMEOUT(w.nodeState("gen").status == NodeStatus::Running, 60000);
        w.cancelRun();
        QTRY_VERIFY_WITH_TIMEOUT(!w.isRunning(), 60000);
        QCOMPARE(w.lastSummary().status, std::string("cancelled"));
        QCOMPARE(qbui::toString(w.nodeState("gen").status), QString("cancelled"));
    }

    void closeDuringRunCancelsWithoutBlocking()
    {
        qbui::MainWindow w;
        w.setInteractive(false);
        QVERIFY(w.openFile(m_smoke));
        setLongGeneration(w);
        w.model()->setExperimentInfo("closing", 77);
        w.show();
        QVERIFY(w.startRun());
        QVERIFY(!w.close()); // refused for now: the run is being cancelled
        QVERIFY(w.isVisible());
        QTRY_VERIFY_WITH_TIMEOUT(!w.isVisible(), 60000);
        QVERIFY(!w.isRunning());
        QCOMPARE(w.lastSummary().status, std::string("cancelled"));
    }

    void exportModelOfARun()
    {
        QVERIFY2(!m_runDir.isEmpty(), "runSmokeProject must run first");
        qbui::MainWindow w;
        w.setInteractive(false);
        QVERIFY(!w.startModelExport("tiny", "gguf", "q8_0", "x.gguf")); // no run yet
        QVERIFY2(w.lastError().contains("Run the experiment first"), qPrintable(w.lastError()));
        QVERIFY(w.openFile(m_smoke));
        QVERIFY(w.openRun(m_runDir));
        QVERIFY(!w.modelOutputOf("tiny").isEmpty()); // model.random writes a model folder
        QVERIFY(w.modelOutputOf("gen").isEmpty());   // generate writes completions
        QVERIFY(!w.startModelExport("gen", "gguf", "q8_0", "x.gguf"));
        QVERIFY2(w.lastError().contains("produced no model"), qPrintable(w.lastError()));

        // GGUF Q8_0 of the run's model on the worker thread: a file ggml's magic opens.
        QSignalSpy done(&w, &qbui::MainWindow::exportFinished);
        const fs::path gguf = m_tmp / "tiny-q8_0.gguf";
        QVERIFY(w.startModelExport("tiny", "gguf", "q8_0", QString::fromStdString(gguf.string())));
        QVERIFY(w.isExporting());
        QTRY_COMPARE_WITH_TIMEOUT(done.count(), 1, 60000);
        QVERIFY2(done.at(0).at(0).toBool(), qPrintable(done.at(0).at(1).toString()));
        QVERIFY(done.at(0).at(1).toString().contains("GGUF q8_0"));
        QVERIFY(!w.isExporting());
        QCOMPARE(qbtest::readFile(gguf).substr(0, 4), std::string("GGUF"));
        QVERIFY(w.logText().contains("Exported"));

        // GPTQ needs a quantized model: the refusal comes back as a failed export, named.
        const fs::path gptq = m_tmp / "tiny-gptq";
        QVERIFY(w.startModelExport("tiny", "gptq", {}, QString::fromStdString(gptq.string())));
        QTRY_COMPARE_WITH_TIMEOUT(done.count(), 2, 60000);
        QVERIFY(!done.at(1).at(0).toBool());
        QVERIFY(!done.at(1).at(1).toString().isEmpty());
        QVERIFY(w.logText().contains("Export failed"));
        QVERIFY(!fs::exists(gptq));
    }

    void runHistoryAndReport()
    {
        QVERIFY2(!m_runDir.isEmpty(), "runSmokeProject must run first");
        qbui::MainWindow w;
        w.setInteractive(false);
        QVERIFY(w.openRun(m_runDir));
        QCOMPARE(w.charts()->metrics()->pointCount("gen", "tokens_per_second"), 1);

        // A damaged copy: the bad line is reported with its number, the rest still loads.
        const fs::path copy = m_tmp / "damaged_run";
        fs::create_directories(copy);
        std::string events = qbtest::readFile(m_runDir.toStdString() + "/events.jsonl");
        const int lines = int(std::count(events.begin(), events.end(), '\n'));
        qbtest::writeFile(copy / "events.jsonl", events + "{not json\n");
        fs::copy_file(m_runDir.toStdString() + "/results.json", copy / "results.json");
        QVERIFY(!w.openRun(QString::fromStdString(copy.string())));
        QVERIFY2(w.lastError().contains(QString("events.jsonl:%1:").arg(lines + 1)),
                 qPrintable(w.lastError()));
        QCOMPARE(w.charts()->metrics()->pointCount("gen", "tokens_per_second"), 1);

        const QString report = QString::fromStdString((m_tmp / "report").string());
        QVERIFY(w.exportReport(report).isEmpty());
        const std::string md = qbtest::readFile(report.toStdString() + "/report.md");
        QVERIFY(md.find("| tiny | generate |") != std::string::npos);
        QVERIFY(md.find("figures/metrics.png") != std::string::npos);
        QVERIFY(QFile::exists(report + "/report.html"));
        QVERIFY(QFile::exists(report + "/figures/metrics.svg"));
        QVERIFY(QFile::exists(report + "/figures/metrics.pdf"));
        // No accuracy rows in a generate-only run: that chart is left out.
        QVERIFY(!QFile::exists(report + "/figures/accuracy.png"));
    }

    void runAnalysisProject()
    {
        const fs::path project = m_tmp / "analysis.yaml";
        qbtest::writeFile(project, R"(schema_version: 1
name: micro-analysis
seed: 7
nodes:
  - id: tiny
    type: model.random
    params: {vocab_size: 64, hidden_size: 32, intermediate_size: 64, layers: 2, heads: 2, kv_heads: 1}
  - {id: nf4, type: quantize, inputs: {model: tiny}, params: {method: nf4, block_size: 32}}
  - id: err
    type: analyze.layer_error
    inputs: {reference: tiny, quantized: nf4}
    params: {calibration: {source: random, samples: 2, seq_len: 8}, histogram_bins: 16}
  - id: sens
    type: analyze.sensitivity
    inputs: {model: tiny}
    params: {calibration: {source: random, samples: 2, seq_len: 8}, budget_bits: 5.0}
)");
        qbui::MainWindow w;
        w.setInteractive(false);
        QVERIFY(w.openFile(QString::fromStdString(project.string())));
        QVERIFY(w.startRun());
        QTRY_VERIFY_WITH_TIMEOUT(!w.isRunning(), 120000);
        QCOMPARE(w.lastSummary().status, std::string("ok"));

        auto check = [](qbui::ChartSet *charts) {
            qbui::LayerErrorChart *err = charts->layerError();
            QCOMPARE(err->nodes(), QStringList{"err"});
            // Two blocks of seven linears and the lm_head (block 2).
            QCOMPARE(err->layerCount(), 3);
            QCOMPARE(int(err->modules().size()), 8);
            const double relMse = err->value(0, "q_proj", "rel_mse");
            QVERIFY2(relMse > 0 && relMse < 1, qPrintable(QString::number(relMse)));
            QVERIFY(std::isnan(err->value(2, "lm_head", "sqnr_db"))); // dense: exact, null
            qbui::WeightHistogramChart *h = charts->weightHistogram();
            QVERIFY(h->shown());
            QCOMPARE(h->shown()->layer, QString("model.layers.0.self_attn.q_proj"));
            h->flush();
            QCOMPARE(h->referenceGraph()->dataCount(), 17);
            QCOMPARE(h->levelGraph()->dataCount(), 16); // the NF4 codebook
            double weights = 0;
            for (double c : h->shown()->reference)
                weights += c;
            QCOMPARE(weights, 32.0 * 32.0);
            QVERIFY(!charts->sensitivity()->curve("sens").empty());
            QVERIFY(charts->sensitivity()->allocation("sens"));
        };
        check(w.charts());
        if (QTest::currentTestFailed())
            return;
        QVERIFY(w.charts()->layerError()->pageTitle("err").contains("nf4"));

        const QString runDir = QString::fromStdString(w.lastSummary().runDir.string());
        qbui::MainWindow history;
        history.setInteractive(false);
        QVERIFY(history.openRun(runDir));
        check(history.charts());
        if (QTest::currentTestFailed())
            return;

        const QString report = QString::fromStdString((m_tmp / "analysis_report").string());
        QVERIFY(history.exportReport(report).isEmpty());
        const std::string md = qbtest::readFile(report.toStdString() + "/report.md");
        QVERIFY(md.find("### Layer error: per linear layer") != std::string::npos);
        QVERIFY(md.find("### Sensitivity: allocation") != std::string::npos);
        for (const char *f : {"weight_histogram", "layer_error", "sensitivity"})
            QVERIFY2(QFile::exists(report + "/figures/" + f + ".svg"), f);
    }

private:
    fs::path m_tmp;
    QString m_smoke;
    QString m_runDir;
};

QTEST_MAIN(TestMainWindow)
#include "tst_main_window.moc"
