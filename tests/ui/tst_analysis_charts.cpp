// Analysis charts: the weight histogram (steps over the bin edges, level lines, title, pages),
// the layer-error chart's metric and node selectors with null fields as gaps, the sensitivity
// curve with its allocation and budget, valid PNG/SVG/PDF exports of the histogram, and the
// report's separate tables for analysis rows. Every chart is fed from events parsed from JSON
// text written here, with hand-made values.
#include "support/test_support.h"
#include "ui/chart_set.h"
#include "ui/qcp.h"
#include "ui/report_writer.h"

#include <QFile>
#include <QImage>
#include <QSvgRenderer>
#include <QTest>

#include <cmath>
#include <sstream>

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Three linears of err_a (q_proj in blocks 0 and 1, the dense lm_head with a null SQNR), one of
// err_b, a histogram of each, a sensitivity curve with a null KL, its allocation, and one plain
// metric.
const char *kEvents = R"jsonl(
{"kind":"metric","node":"err_a","name":"layer_error","step":0,"value":0.01,"data":{"layer":0,"module":"q_proj","name":"model.layers.0.self_attn.q_proj","kind":"int2-g4","tokens":32,"weight_rel_mse":0.008,"rel_mse":0.01,"sqnr_db":20.0,"cosine":0.995,"max_abs":0.05,"kl":1e-6,"act_absmax":3.5,"act_outlier_fraction":0.0,"act_outlier_channels":0,"weight_kurtosis":3.1,"new_metric":7}}
{"kind":"metric","node":"err_a","name":"layer_error","step":1,"value":0.04,"data":{"layer":1,"module":"q_proj","name":"model.layers.1.self_attn.q_proj","kind":"int2-g4","tokens":32,"weight_rel_mse":0.03,"rel_mse":0.04,"sqnr_db":13.98,"cosine":0.98,"max_abs":0.2,"kl":null,"act_absmax":7.25,"act_outlier_fraction":0.125,"act_outlier_channels":2,"weight_kurtosis":4.5}}
{"kind":"metric","node":"err_a","name":"layer_error","step":2,"value":0,"data":{"layer":2,"module":"lm_head","name":"lm_head","kind":"dense","tokens":32,"weight_rel_mse":0,"rel_mse":0,"sqnr_db":null,"cosine":1,"max_abs":0,"kl":0,"act_absmax":2.0,"act_outlier_fraction":0,"act_outlier_channels":0,"weight_kurtosis":3.0}}
{"kind":"metric","node":"err_b","name":"layer_error","step":0,"value":0.1,"data":{"layer":0,"module":"q_proj","name":"model.layers.0.self_attn.q_proj","kind":"int3-g4","tokens":32,"rel_mse":0.1,"sqnr_db":10.0}}
{"kind":"metric","node":"err_a","name":"weight_histogram","step":0,"value":4,"data":{"layer":"model.layers.0.self_attn.q_proj","kind":"int2-g4","bin_edges":[-1,-0.5,0,0.5,1],"reference_counts":[1,3,4,2],"quantized_counts":[2,0,6,2],"levels":[1,-1,-0.25,0.25],"levels_source":"(code - zero) x scale of row 0, group 0"}}
{"kind":"metric","node":"err_b","name":"weight_histogram","step":0,"value":0,"data":{"layer":"lm_head","kind":"dense","bin_edges":[0,1,3],"reference_counts":[5,5],"quantized_counts":[5,5],"levels":[],"levels_source":"none (dense float32 layer)"}}
{"kind":"metric","node":"sens","name":"sensitivity.curve","step":4.5,"value":0.02,"data":{"upgraded":0,"layer":"","bits_per_param":4.5,"kl":0.02}}
{"kind":"metric","node":"sens","name":"sensitivity.curve","step":4.75,"value":0.01,"data":{"upgraded":1,"layer":"model.layers.1.self_attn.q_proj","bits_per_param":4.75,"kl":0.01}}
{"kind":"metric","node":"sens","name":"sensitivity.curve","step":5.0,"data":{"upgraded":2,"layer":"model.layers.0.self_attn.q_proj","bits_per_param":5.0,"kl":null}}
{"kind":"metric","node":"sens","name":"sensitivity.curve","step":5.5,"value":0.001,"data":{"upgraded":3,"layer":"lm_head","bits_per_param":5.5,"kl":0.001}}
{"kind":"metric","node":"sens","name":"sensitivity.allocation","step":4.75,"value":0.01,"data":{"budget_bits":5.0,"feasible":true,"bits_per_param":4.75,"kl":0.01,"upgraded":1}}
{"kind":"metric","node":"err_a","name":"hidden_cosine","step":0,"value":0.999,"data":{"layer":0,"cosine":0.999,"rel_error":0.002}}
)jsonl";

void feed(qbui::ChartSet &charts, const char *jsonl = kEvents)
{
    std::istringstream lines(jsonl);
    std::string line;
    while (std::getline(lines, line))
        if (!line.empty())
            charts.addEvent(qb::eventFromJson(json::parse(line)));
}

QList<double> keys(QCPGraph *g)
{
    QList<double> out;
    for (auto it = g->data()->begin(); it != g->data()->end(); ++it)
        out << it->key;
    return out;
}

QList<double> values(QCPGraph *g)
{
    QList<double> out;
    for (auto it = g->data()->begin(); it != g->data()->end(); ++it)
        out << it->value;
    return out;
}

QCPBars *barsNamed(QCustomPlot *plot, const QString &name)
{
    for (int i = 0; i < plot->plottableCount(); ++i)
        if (auto *b = qobject_cast<QCPBars *>(plot->plottable(i)); b && b->name() == name)
            return b;
    return nullptr;
}

QByteArray head(const QString &path, int n)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.read(n) : QByteArray();
}

} // namespace

class TestAnalysisCharts : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { m_tmp = qbtest::makeTempDir("ui_analysis_charts"); }

    void histogramStepsAndLevels()
    {
        QWidget host;
        qbui::ChartSet charts(&host);
        feed(charts);
        qbui::WeightHistogramChart *h = charts.weightHistogram();
        QCOMPARE(h->pages(), (QStringList{"err_a/model.layers.0.self_attn.q_proj",
                                          "err_b/lm_head"}));
        QCOMPARE(h->currentPage(), QString("err_a/model.layers.0.self_attn.q_proj"));
        h->flush();
        // Four bins: a step at each left edge and the last count again at the right edge.
        QCOMPARE(keys(h->referenceGraph()), (QList<double>{-1, -0.5, 0, 0.5, 1}));
        QCOMPARE(values(h->referenceGraph()), (QList<double>{1, 3, 4, 2, 2}));
        QCOMPARE(values(h->quantizedGraph()), (QList<double>{2, 0, 6, 2, 2}));
        QVERIFY(h->referenceGraph()->lineStyle() == QCPGraph::lsStepLeft);
        // Levels, sorted, as impulses of height 1 on the hidden 0..1 axis: full-height lines.
        QCPGraph *levels = h->levelGraph();
        QCOMPARE(keys(levels), (QList<double>{-1, -0.25, 0.25, 1}));
        QCOMPARE(values(levels), (QList<double>{1, 1, 1, 1}));
        QVERIFY(levels->lineStyle() == QCPGraph::lsImpulse);
        QCOMPARE(levels->valueAxis()->range().lower, 0.0);
        QCOMPARE(levels->valueAxis()->range().upper, 1.0);
        QVERIFY(h->plot()->xAxis->range().contains(-1) && h->plot()->xAxis->range().contains(1));
        QCOMPARE(h->plot()->yAxis->range().lower, 0.0);
        QVERIFY(h->plot()->yAxis->range().upper >= 6);
        QVERIFY(h->plotTitle().contains("model.layers.0.self_attn.q_proj"));
        QVERIFY(h->plotTitle().contains("(code - zero) x scale of row 0, group 0"));
        QVERIFY(h->plotTitle().contains("int2-g4"));

        // The other node's histogram: two bins of different widths, no levels.
        h->setCurrentPage("err_b/lm_head");
        h->flush();
        QCOMPARE(keys(h->referenceGraph()), (QList<double>{0, 1, 3}));
        QCOMPARE(h->levelGraph()->dataCount(), 0);
        QVERIFY(h->plotTitle().contains("none (dense float32 layer)"));

        // The analysis payloads are not metric series.
        QCOMPARE(charts.metrics()->seriesNames(), QStringList{"hidden_cosine"});
    }

    void histogramRejectsMalformedPayloads()
    {
        qbui::WeightHistogramChart h;
        QString error;
        QVERIFY(!h.addHistogram("n", json{{"bin_edges", {0, 1, 2}},
                                          {"reference_counts", {1}},
                                          {"quantized_counts", {1, 2}}},
                                &error));
        QVERIFY2(error.contains("reference_counts"), qPrintable(error));
        QVERIFY(!h.addHistogram("n", json{{"bin_edges", {1, 0}},
                                          {"reference_counts", {1}},
                                          {"quantized_counts", {1}}},
                                &error));
        QVERIFY2(error.contains("ascending"), qPrintable(error));
        QVERIFY(!h.addHistogram("n", json::array(), &error));
        QVERIFY(!h.hasData());
    }

    void histogramExportsValidFiles()
    {
        QWidget host;
        qbui::ChartSet charts(&host);
        feed(charts);
        const QString base = QString::fromStdString((m_tmp / "histogram").string());
        for (const char *suffix : {".png", ".svg", ".pdf"})
            QCOMPARE(charts.weightHistogram()->exportTo(base + suffix, 640, 400), QString());
        QCOMPARE(head(base + ".png", 8), QByteArray("\x89PNG\r\n\x1a\n", 8));
        QCOMPARE(QImage(base + ".png").size(), QSize(640, 400));
        const QByteArray svg = head(base + ".svg", 4096);
        QVERIFY(svg.startsWith("<?xml"));
        QVERIFY(svg.contains("<svg"));
        QVERIFY(QSvgRenderer(base + ".svg").isValid());
        QCOMPARE(head(base + ".pdf", 5), QByteArray("%PDF-"));
        QFile pdf(base + ".pdf");
        QVERIFY(pdf.open(QIODevice::ReadOnly));
        QVERIFY(pdf.readAll().trimmed().endsWith("%%EOF"));
    }

    void layerErrorMetricsNodesAndGaps()
    {
        QWidget host;
        qbui::ChartSet charts(&host);
        feed(charts);
        qbui::LayerErrorChart *c = charts.layerError();
        const QStringList offered = c->metrics();
        for (const char *m : {"rel_mse", "sqnr_db", "cosine", "kl", "weight_rel_mse", "max_abs",
                              "act_absmax", "act_outlier_fraction", "act_outlier_channels",
                              "weight_kurtosis", "new_metric"})
            QVERIFY2(offered.contains(m), m);
        QVERIFY(!offered.contains("tokens") && !offered.contains("layer"));
        QVERIFY(!offered.contains("name") && !offered.contains("kind"));

        QCOMPARE(c->nodes(), (QStringList{"err_a", "err_b"}));
        QCOMPARE(c->node(), QString("err_a"));
        QCOMPARE(c->modules(), (QStringList{"q_proj", "lm_head"}));
        QCOMPARE(c->layerCount(), 3);
        QCOMPARE(c->value(1, "q_proj", "act_outlier_fraction"), 0.125);
        QVERIFY(std::isnan(c->value(2, "lm_head", "sqnr_db"))); // null, not 0

        // SQNR: the exact lm_head has no bar and a transparent heatmap cell.
        c->setMetric("sqnr_db");
        QCOMPARE(c->heatmapCell(0, 0), 20.0);
        QVERIFY(c->heatmapGap(2, 1));
        QVERIFY(!c->heatmapGap(1, 0));
        QCOMPARE(barsNamed(c->plot(), "lm_head")->data()->size(), 0);
        QCOMPARE(barsNamed(c->plot(), "q_proj")->data()->size(), 2);
        QCOMPARE(barsNamed(c->plot(), "q_proj")->data()->at(1)->value, 13.98);
        // KL: null in block 1, a real zero for lm_head (a bar of height 0, not a gap).
        c->setMetric("kl");
        c->flush();
        QCOMPARE(barsNamed(c->plot(), "q_proj")->data()->size(), 1);
        QCOMPARE(barsNamed(c->plot(), "lm_head")->data()->size(), 1);
        QVERIFY(c->heatmapGap(1, 0));
        QVERIFY(!c->heatmapGap(2, 1));
        // On the log axis the zero has no place either.
        c->setLogScale(true);
        c->flush();
        QCOMPARE(barsNamed(c->plot(), "lm_head")->data()->size(), 0);
        QVERIFY(c->heatmapGap(2, 1));
        QVERIFY(c->plot()->yAxis->scaleType() == QCPAxis::stLogarithmic);
        c->setLogScale(false);

        // The other node: its own value and modules.
        c->setNode("err_b");
        c->setMetric("rel_mse");
        QCOMPARE(c->value(0, "q_proj", "rel_mse"), 0.1);
        QCOMPARE(c->modules(), QStringList{"q_proj"});
        QCOMPARE(c->heatmapCell(0, 0), 0.1);
        QCOMPARE(barsNamed(c->plot(), "q_proj")->data()->at(0)->value, 0.1);
        QCOMPARE(c->value("err_a", 0, "q_proj", "rel_mse"), 0.01);

        // results.json names what each node measured.
        charts.setResults(json{{"results", json::array()},
                               {"nodes", {{"err_a", {{"meta", {{"label", "int2-g4"}}}}}}}});
        QCOMPARE(c->pageTitle("err_a"), QString("err_a (int2-g4)"));
        // During a live run the label comes with the node's layer_error events.
        QCOMPARE(c->pageTitle("err_b"), QString("err_b"));
        charts.addEvent(qb::eventFromJson(json::parse(
            R"({"kind":"metric","node":"err_b","name":"layer_error","step":1,"value":0.2,)"
            R"("data":{"layer":1,"module":"q_proj","name":"model.layers.1.self_attn.q_proj",)"
            R"("kind":"int3-g4","rel_mse":0.2,"label":"int3-g4"}})")));
        QCOMPARE(c->pageTitle("err_b"), QString("err_b (int3-g4)"));
    }

    void sensitivityCurveWithAllocation()
    {
        QWidget host;
        qbui::ChartSet charts(&host);
        feed(charts);
        qbui::SensitivityChart *s = charts.sensitivity();
        QCOMPARE(s->nodes(), QStringList{"sens"});
        const auto curve = s->curve("sens");
        QCOMPARE(int(curve.size()), 4);
        QCOMPARE(curve[1].layer, QString("model.layers.1.self_attn.q_proj"));
        QVERIFY(std::isnan(curve[2].kl));
        s->flush();
        QCPGraph *g = s->curveGraph("sens");
        QVERIFY(g);
        QCOMPARE(keys(g), (QList<double>{4.5, 4.75, 5.0, 5.5}));
        const QList<double> kl = values(g);
        QCOMPARE(kl[0], 0.02);
        QCOMPARE(kl[3], 0.001);
        QVERIFY(std::isnan(kl[2])); // the null is a gap in the line
        QCPGraph *star = s->allocationGraph("sens");
        QVERIFY(star);
        QCOMPARE(keys(star), QList<double>{4.75});
        QCOMPARE(values(star), QList<double>{0.01});
        QCOMPARE(s->budgetLines(), QVector<double>{5.0});
        QVERIFY(s->plot()->yAxis->scaleType() == QCPAxis::stLogarithmic);
        s->setLogScale(false);
        s->flush();
        QVERIFY(s->plot()->yAxis->scaleType() == QCPAxis::stLinear);
        QCOMPARE(s->allocation("sens")->upgraded, 1);
    }

    void reportHasSeparateAnalysisTables()
    {
        QWidget host;
        qbui::ChartSet charts(&host);
        feed(charts);
        const json rows = json::array({
            {{"model", "base"}, {"label", "fp32"}, {"task", "gsm8k"}, {"accuracy", 0.5}},
            {{"analysis", "layer_error.layer"}, {"node", "err_a"}, {"label", "int2-g4"},
             {"layer", 0}, {"module", "q_proj"}, {"rel_mse", 0.01}, {"sqnr_db", nullptr}},
            {{"model", "q"}, {"label", "int2-g4"}, {"task", "gsm8k"}, {"accuracy", 0.25}},
            {{"analysis", "layer_error.block"}, {"node", "err_a"}, {"layer", 0},
             {"rel_error", 0.002}},
            {{"analysis", "sensitivity.curve"}, {"node", "sens"}, {"bits_per_param", 4.5},
             {"kl", 0.02}},
            {{"analysis", "layer_error.layer"}, {"node", "err_a"}, {"label", "int2-g4"},
             {"layer", 1}, {"module", "q_proj"}, {"rel_mse", 0.04}, {"sqnr_db", 13.98}},
        });
        const auto tables = qbui::resultTables(rows);
        QCOMPARE(int(tables.size()), 4);
        QCOMPARE(tables[0].kind, QString());
        QCOMPARE(int(tables[0].rows.size()), 2);
        QCOMPARE(tables[0].columns, (QStringList{"model", "label", "task", "accuracy"}));
        QCOMPARE(tables[1].kind, QString("layer_error.layer"));
        QCOMPARE(int(tables[1].rows.size()), 2);
        QCOMPARE(tables[1].columns,
                 (QStringList{"node", "label", "layer", "module", "rel_mse", "sqnr_db"}));
        QCOMPARE(tables[2].kind, QString("layer_error.block"));
        QCOMPARE(tables[3].kind, QString("sensitivity.curve"));

        const QString dir = QString::fromStdString((m_tmp / "report").string());
        qbui::ReportInput input;
        input.title = "analysis";
        input.results = json{{"status", "ok"}, {"results", rows}};
        QCOMPARE(qbui::writeReport(dir, charts, input, 400, 300), QStringList());
        const std::string md = qbtest::readFile(dir.toStdString() + "/report.md");
        const std::string results = md.substr(md.find("## Results"),
                                               md.find("## Analysis") - md.find("## Results"));
        QVERIFY(results.find("| model | label | task | accuracy |\n") != std::string::npos);
        QVERIFY(results.find("rel_mse") == std::string::npos);
        QVERIFY(md.find("### Layer error: per linear layer\n\n"
                        "| node | label | layer | module | rel_mse | sqnr_db |\n|---|---|---|---|"
                        "---|---|\n| err_a | int2-g4 | 0 | q_proj | 0.01 |  |\n")
                != std::string::npos);
        QVERIFY(md.find("### Layer error: hidden state per block") != std::string::npos);
        QVERIFY(md.find("### Sensitivity: KL vs bits/param") != std::string::npos);
        const std::string html = qbtest::readFile(dir.toStdString() + "/report.html");
        size_t tablesInHtml = 0;
        for (size_t at = html.find("<table>"); at != std::string::npos;
             at = html.find("<table>", at + 1))
            ++tablesInHtml;
        QCOMPARE(tablesInHtml, size_t(4));
        // Two layer-error nodes and two histograms: a figure for each; one sensitivity figure.
        for (const char *f : {"layer_error-err_a", "layer_error-err_b",
                              "weight_histogram-err_a_model.layers.0.self_attn.q_proj",
                              "weight_histogram-err_b_lm_head", "sensitivity"}) {
            QVERIFY2(QFile::exists(dir + "/figures/" + f + ".png"), f);
            QVERIFY2(QFile::exists(dir + "/figures/" + f + ".pdf"), f);
            QVERIFY2(md.find(std::string("figures/") + f + ".png") != std::string::npos, f);
        }
        QVERIFY(!QFile::exists(dir + "/figures/layer_error.png"));
        // Exporting the pages leaves each chart on the page it showed.
        QCOMPARE(charts.layerError()->node(), QString("err_a"));
    }

private:
    fs::path m_tmp;
};

QTEST_MAIN(TestAnalysisCharts)
#include "tst_analysis_charts.moc"
