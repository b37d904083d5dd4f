// Charts: the data each chart holds after being fed (metric series, accuracy bars with
// intervals and memory, per-layer bars and heatmap, flips), valid PNG/SVG/PDF exports at the
// requested size, run-history parsing and headless rendering of a run folder.
#include "support/test_support.h"
#include "ui/chart_set.h"
#include "ui/headless.h"
#include "ui/qcp.h"
#include "ui/run_history.h"

#include <QFile>
#include <QImage>
#include <QSvgRenderer>
#include <QTest>

#include <cmath>

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

QCPBars *barsNamed(QCustomPlot *plot, const QString &name)
{
    for (int i = 0; i < plot->plottableCount(); ++i)
        if (auto *b = qobject_cast<QCPBars *>(plot->plottable(i)); b && b->name() == name)
            return b;
    return nullptr;
}

json accuracyRows()
{
    return json::array({
        {{"model", "base"}, {"label", "fp32"}, {"task", "gsm8k"}, {"accuracy", 0.5},
         {"ci_low", 0.4}, {"ci_high", 0.6}, {"weight_bytes", 4 * 1048576}},
        {{"model", "nf4"}, {"label", "nf4"}, {"task", "gsm8k"}, {"accuracy", 0.25},
         {"ci_low", 0.2}, {"ci_high", 0.35}, {"weight_bytes", 1048576},
         {"prefill_tokens_per_second", 1234.4}, {"working_memory_bytes", 3 * 1048576 / 2}},
        {{"model", "base"}, {"label", "fp32"}, {"task", "gpqa"}, {"accuracy", 0.3},
         {"ci_low", 0.25}, {"ci_high", 0.36}, {"weight_bytes", 4 * 1048576}},
        {{"model", "nf4"}, {"task", "generate"}, {"tokens_per_second", 9.0}}, // no accuracy
    });
}

// A decoding sweep's typed row: model, precision label, prompt style, temperature, k, strict
// accuracy (interval +-0.05), flexible accuracy, unparsed rate, greedy accuracy of its style.
json sweepRow(const std::string &model, const std::string &label, const std::string &style,
              double t, int k, double acc, double flexible, double unparsed, double greedy)
{
    qb::EvalRow r;
    r.model = model;
    r.label = label;
    r.precision = label;
    r.task = "gsm8k";
    r.dataset = "gsm";
    r.n = 100;
    r.accuracy = acc;
    r.ciLow = acc - 0.05;
    r.ciHigh = acc + 0.05;
    r.flexibleAccuracy = flexible;
    r.unparsedRate = unparsed;
    r.selfConsistency = k;
    qb::DecodingSetting d;
    d.temperature = t;
    d.promptStyle = style;
    d.greedyAccuracy = greedy;
    r.decoding = d;
    return r.toJson();
}

json sweepRows()
{
    return json::array({
        sweepRow("base", "fp32", "cot", 0, 1, 0.90, 0.92, 0.01, 0.90),
        sweepRow("base", "fp32", "cot", 0.7, 1, 0.85, 0.88, 0.02, 0.90),
        sweepRow("base", "fp32", "cot", 0.7, 5, 0.91, 0.93, 0.00, 0.90),
        sweepRow("base", "fp32", "cot", 1.3, 1, 0.60, 0.70, 0.10, 0.90),
        sweepRow("base", "fp32", "cot", 1.3, 5, 0.75, 0.80, 0.03, 0.90),
        sweepRow("int2", "int2-g64", "cot", 0, 1, 0.50, 0.55, 0.05, 0.50),
        sweepRow("int2", "int2-g64", "cot", 0.7, 1, 0.40, 0.45, 0.08, 0.50),
        sweepRow("int2", "int2-g64", "cot", 0.7, 5, 0.52, 0.56, 0.02, 0.50),
        sweepRow("int2", "int2-g64", "cot", 1.3, 1, 0.10, 0.20, 0.40, 0.50),
        sweepRow("int2", "int2-g64", "cot", 1.3, 5, 0.20, 0.25, 0.30, 0.50),
        sweepRow("base", "fp32", "direct", 0, 1, 0.05, 0.06, 0.90, 0.05),
    });
}

} // namespace

class TestCharts : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { m_tmp = qbtest::makeTempDir("ui_charts"); }

    void metricChartKeepsSeriesPerNode()
    {
        qbui::MetricChart chart;
        for (int i = 0; i < 5; ++i)
            chart.addPoint("train", "loss", i, 5.0 - i);
        chart.addPoint("train2", "loss", 0, 7);
        chart.addPoint("train", "reward", 0, 0.5);
        QCOMPARE(chart.pointCount("train", "loss"), 5);
        QCOMPARE(chart.pointCount("train2", "loss"), 1);
        QCOMPARE(chart.seriesNames(), (QStringList{"loss", "reward"}));
        chart.flush();
        QCOMPARE(chart.plot()->graphCount(), 3);
        chart.setFilter("loss");
        chart.flush();
        QCOMPARE(chart.plot()->graphCount(), 2);
        // Auto-rescale covers every value: 1..7 on y.
        QVERIFY(chart.plot()->yAxis->range().contains(1));
        QVERIFY(chart.plot()->yAxis->range().contains(7));
    }

    void metricChartGivesEachSeriesItsXAndOnePanelPerUnit()
    {
        qbui::MetricChart chart;
        for (int i = 0; i < 3; ++i) {
            chart.addPoint("train", "loss", 10 * i, 2.0 - i, qb::MetricX::Step, "nats");
            chart.addPoint("train", "lr", 10 * i, 1e-3, qb::MetricX::Step, "learning rate");
        }
        for (int layer = 0; layer < 2; ++layer)
            chart.addPoint("q", "quant.weight_rel_error", layer, 0.01 * (layer + 1),
                           qb::MetricX::Layer, "relative error");
        chart.addPoint("gen", "tokens_per_second", 0, 640, qb::MetricX::None, "tokens/s");
        QCOMPARE(chart.pages(), (QStringList{"step", "layer", "none"}));
        // Training steps: loss and learning rate, each in a panel of its own unit.
        chart.setCurrentPage("step");
        QCOMPARE(chart.plot()->graphCount(), 2);
        QCOMPARE(chart.panelUnits(), (QStringList{"nats", "learning rate"}));
        QCOMPARE(chart.plot()->axisRectCount(), 2);
        QVERIFY(chart.plot()->graph(0)->keyAxis()->axisRect()
                != chart.plot()->graph(1)->keyAxis()->axisRect());
        QVERIFY(chart.plot()->axisRect(0)->axis(QCPAxis::atBottom)->range().contains(20));
        // Per-layer values are not on the step axis.
        chart.setCurrentPage("layer");
        QCOMPARE(chart.plot()->graphCount(), 1);
        QCOMPARE(chart.plot()->axisRectCount(), 1);
        QCOMPARE(chart.plot()->graph(0)->dataCount(), 2);
        const QCPAxisRect *rect = chart.plot()->axisRect(0);
        QCOMPARE(rect->axis(QCPAxis::atBottom)->label(), QString("layer index"));
        QCOMPARE(rect->axis(QCPAxis::atLeft)->label(), QString("relative error"));
        chart.setCurrentPage("none");
        QCOMPARE(chart.plot()->graphCount(), 1);
        QCOMPARE(chart.panelUnits(), QStringList{"tokens/s"});
    }

    void metricEventsOfOldRunsFindTheirAxis()
    {
        // An events.jsonl line without x and unit, as runs before them wrote it.
        QWidget parent;
        qbui::ChartSet charts(&parent);
        charts.addEvent(qb::eventFromJson(json{{"kind", "metric"}, {"node", "q"},
                                               {"name", "quant.weight_rel_error"}, {"step", 3},
                                               {"value", 0.1}}));
        charts.addEvent(qb::eventFromJson(json{{"kind", "metric"}, {"node", "t"}, {"name", "loss"},
                                               {"step", 3}, {"value", 0.1}}));
        QCOMPARE(charts.metrics()->pages(), (QStringList{"step", "layer"}));
        charts.metrics()->setCurrentPage("step");
        QCOMPARE(charts.metrics()->plot()->graphCount(), 1);
        QCOMPARE(charts.metrics()->panelUnits(), QStringList{"nats"});
    }

    void accuracyChartGroupsBarsWithIntervals()
    {
        qbui::AccuracyChart chart;
        chart.setRows(accuracyRows());
        QCOMPARE(int(chart.rows().size()), 3);
        QCOMPARE(chart.tasks(), (QStringList{"gsm8k", "gpqa"}));
        chart.flush();
        QCPBars *fp32 = barsNamed(chart.plot(), "base · fp32");
        QCPBars *nf4 = barsNamed(chart.plot(), "nf4");
        QVERIFY(fp32 && nf4);
        QCOMPARE(fp32->data()->size(), 2);
        QCOMPARE(fp32->data()->at(0)->value, 50.0);
        QCOMPARE(fp32->data()->at(1)->value, 30.0);
        // Two series in a group of width 0.8: centred at -0.2 and +0.2 around the task tick.
        QVERIFY(std::abs(fp32->data()->at(0)->key - -0.2) < 1e-9);
        QVERIFY(std::abs(nf4->data()->at(0)->key - 0.2) < 1e-9);
        QCPErrorBars *errors = nullptr;
        for (int i = 0; i < chart.plot()->plottableCount(); ++i)
            if (auto *e = qobject_cast<QCPErrorBars *>(chart.plot()->plottable(i));
                e && e->dataPlottable() == nf4)
                errors = e;
        QVERIFY(errors);
        QVERIFY(std::abs(errors->data()->at(0).errorMinus - 5.0) < 1e-9);
        QVERIFY(std::abs(errors->data()->at(0).errorPlus - 10.0) < 1e-9);
        // Memory in MiB on the second axis: 4 MiB and 1 MiB.
        QCPGraph *mem = chart.plot()->graph(0);
        QCOMPARE(mem->valueAxis(), chart.plot()->yAxis2);
        QList<double> mib;
        for (auto it = mem->data()->begin(); it != mem->data()->end(); ++it)
            mib << it->value;
        std::sort(mib.begin(), mib.end());
        QCOMPARE(mib, (QList<double>{1, 4, 4}));
    }

    void layerErrorChartBarsAndHeatmap()
    {
        qbui::LayerErrorChart chart;
        QVERIFY(chart.addLayerError({{"layer", 0}, {"module", "q_proj"}, {"rel_mse", 0.01},
                                     {"sqnr_db", 20.0}}));
        QVERIFY(chart.addLayerError({{"layer", 1}, {"module", "q_proj"}, {"rel_mse", 0.04},
                                     {"sqnr_db", 14.0}}));
        QVERIFY(chart.addLayerError({{"layer", 1}, {"module", "down_proj"}, {"rel_mse", 0.09},
                                     {"sqnr_db", 10.5}}));
        QVERIFY(!chart.addLayerError({{"module", "q_proj"}})); // no layer
        QCOMPARE(chart.layerCount(), 2);
        QCOMPARE(chart.modules(), (QStringList{"q_proj", "down_proj"}));
        QCOMPARE(chart.value(1, "down_proj", "rel_mse"), 0.09);
        QVERIFY(std::isnan(chart.value(0, "down_proj", "rel_mse")));
        QCOMPARE(chart.heatmapCell(1, 0), 0.04);
        QCOMPARE(chart.heatmapCell(1, 1), 0.09);
        chart.setMetric("sqnr_db");
        QCOMPARE(chart.heatmapCell(0, 0), 20.0);
        QCPBars *down = barsNamed(chart.plot(), "down_proj");
        QVERIFY(down);
        QCOMPARE(down->data()->size(), 1);
        QCOMPARE(down->data()->at(0)->value, 10.5);
    }

    void flipsListBothDirections()
    {
        const fs::path a = m_tmp / "a.jsonl";
        const fs::path b = m_tmp / "b.jsonl";
        qbtest::writeFile(a, R"({"id": 1, "correct": true, "completion": "A1"}
{"id": 2, "correct": false, "completion": "A2"}
{"id": 3, "correct": true, "completion": "A3"}
{"id": 4, "correct": true, "completion": "A4"}
)");
        qbtest::writeFile(b, R"({"id": 1, "correct": false, "completion": "B1"}
{"id": 2, "correct": true, "completion": "B2"}
this line is broken
{"id": 3, "correct": true, "completion": "B3"}
)");
        qbui::FlipsView view;
        const QString errors = view.loadFiles(QString::fromStdString(a.string()),
                                              QString::fromStdString(b.string()));
        QVERIFY2(errors.contains("b.jsonl:3:"), qPrintable(errors));
        QCOMPARE(int(view.lostFlips().size()), 1);
        QCOMPARE(view.lostFlips()[0].id, QString("1"));
        QCOMPARE(view.lostFlips()[0].completionA, QString("A1"));
        QCOMPARE(view.lostFlips()[0].completionB, QString("B1"));
        QCOMPARE(int(view.gainedFlips().size()), 1);
        QCOMPARE(view.gainedFlips()[0].id, QString("2"));
        QVERIFY(view.toMarkdown().contains("| 2 | A2 | B2 |"));
    }

    void exportsAreValidFiles()
    {
        qbui::MetricChart chart;
        chart.addPoint("n", "loss", 0, 2);
        chart.addPoint("n", "loss", 1, 1);
        const QString base = QString::fromStdString((m_tmp / "chart").string());
        QCOMPARE(chart.exportTo(base + ".png", 640, 400), QString());
        QCOMPARE(chart.exportTo(base + ".svg", 640, 400), QString());
        QCOMPARE(chart.exportTo(base + ".pdf", 640, 400), QString());
        const QImage png(base + ".png");
        QVERIFY(!png.isNull());
        QCOMPARE(png.size(), QSize(640, 400));
        QSvgRenderer svg(base + ".svg");
        QVERIFY(svg.isValid());
        QCOMPARE(svg.viewBox(), QRect(0, 0, 640, 400));
        QFile pdf(base + ".pdf");
        QVERIFY(pdf.open(QIODevice::ReadOnly));
        QVERIFY(pdf.read(5) == "%PDF-");
        QVERIFY(!chart.exportTo(base + ".bmp", 640, 400).isEmpty());
        QVERIFY(!chart.exportTo(base + ".png", 0, 400).isEmpty());
    }

    void runHistoryReportsBadLines()
    {
        const fs::path run = m_tmp / "run";
        fs::create_directories(run);
        qb::Event metric;
        metric.kind = qb::Event::Kind::Metric;
        metric.node = "train";
        metric.name = "loss";
        metric.step = 3;
        metric.value = 1.5;
        qb::Event layer = metric;
        layer.node = "err";
        layer.name = "layer_error";
        layer.data = {{"layer", 2}, {"module", "v_proj"}, {"rel_mse", 0.125}};
        qbtest::writeFile(run / "events.jsonl", qb::toJson(metric).dump() + "\n\n"
                                                    + "[1, 2]\n" + qb::toJson(layer).dump()
                                                    + "\n");
        qbtest::writeFile(run / "results.json",
                          json{{"status", "ok"}, {"results", accuracyRows()}}.dump());
        qbtest::writeFile(run / "experiment.yaml", "name: x\n");
        const qbui::RunRecord rec = qbui::loadRunFolder(QString::fromStdString(run.string()));
        QCOMPARE(int(rec.events.size()), 2);
        QCOMPARE(rec.problems.size(), 1);
        QVERIFY2(rec.problems[0].startsWith("events.jsonl:3:"), qPrintable(rec.problems[0]));
        QCOMPARE(int(rec.resultRows().size()), 4);

        QWidget host;
        qbui::ChartSet charts(&host);
        charts.loadRun(rec);
        QCOMPARE(charts.metrics()->pointCount("train", "loss"), 1);
        QCOMPARE(charts.layerError()->value(2, "v_proj", "rel_mse"), 0.125);
        QCOMPARE(int(charts.accuracy()->rows().size()), 3);

        const QString out = QString::fromStdString((m_tmp / "rendered").string());
        QString log;
        QTextStream err(&log);
        QCOMPARE(qbui::renderRun(QString::fromStdString(run.string()), out, err, 500, 300), 0);
        QCOMPARE(QImage(out + "/figures/accuracy.png").size(), QSize(500, 300));
        QVERIFY(QSvgRenderer(out + "/figures/layer_error.svg").isValid());
        QVERIFY(QFile::exists(out + "/figures/metrics.pdf"));
        const std::string md = qbtest::readFile(out.toStdString() + "/report.md");
        QVERIFY(md.find("| base | fp32 | gsm8k | 0.5 | 0.4 | 0.6 | 4194304 |") != std::string::npos);
        QCOMPARE(qbtest::readFile(out.toStdString() + "/experiment.yaml"), std::string("name: x\n"));
        QVERIFY(log.contains("events.jsonl:3:"));
        QCOMPARE(qbui::renderRun(QString::fromStdString((m_tmp / "nope").string()), out, err), 2);
    }

    void accuracyColoursGroupPrecisionFamiliesAndNeverRepeat()
    {
        using C = qbui::AccuracyChart;
        QCOMPARE(C::familyOf("fp32", "tiny-reasoner", "full"), QString("full"));
        QCOMPARE(C::familyOf("int8", "int8", "quantized"), QString("8bit"));
        QCOMPARE(C::familyOf("llm_int8-t6", "", ""), QString("8bit"));
        QCOMPARE(C::familyOf("nf4-dq-b64", "", ""), QString("4bit"));
        QCOMPARE(C::familyOf("gptq-int4-g128", "", ""), QString("4bit"));
        QCOMPARE(C::familyOf("awq-int4-g128", "", ""), QString("4bit"));
        QCOMPARE(C::familyOf("int3-g128-asym", "", ""), QString("low"));
        QCOMPARE(C::familyOf("int2-g64-asym", "", ""), QString("low"));
        QCOMPARE(C::familyOf("int2-g64-asym", "x", "qlora"), QString("recovered"));
        // The quantization study's eleven models: eleven different colours.
        const QStringList labels = {"fp32", "int8", "llm_int8-t6", "nf4-b64", "nf4-dq-b64",
                                    "fp4-b64", "int4-g128-asym", "gptq-int4-g128-asym",
                                    "awq-int4-g128-asym", "int3-g128-asym", "int2-g128-asym"};
        json rows = json::array();
        for (const QString &l : labels)
            rows.push_back({{"model", l.toStdString()}, {"label", l.toStdString()},
                            {"precision", l.toStdString()}, {"task", "gsm8k"}, {"accuracy", 0.9}});
        C chart;
        chart.setRows(rows);
        chart.flush();
        QSet<QRgb> colours;
        for (int i = 0; i < chart.plot()->plottableCount(); ++i)
            if (auto *b = qobject_cast<QCPBars *>(chart.plot()->plottable(i)))
                colours.insert(b->brush().color().rgb());
        QCOMPARE(colours.size(), 11);
    }

    void resultsTableSortsFiltersAndCopies()
    {
        qbui::ResultsTable table;
        table.setRows(accuracyRows());
        QCOMPARE(table.rowCount(), 3); // the generate row is not an evaluation
        const int accuracy = int(table.columnNames().indexOf("accuracy %"));
        table.sortByColumn(accuracy, Qt::AscendingOrder);
        QCOMPARE(table.cellText(0, accuracy), QString("25"));
        QCOMPARE(table.cellText(2, accuracy), QString("50"));
        QCOMPARE(table.cellText(0, int(table.columnNames().indexOf("95% CI"))),
                 QString("20.0–35.0"));
        QCOMPARE(table.cellText(0, int(table.columnNames().indexOf("weights MiB"))), QString("1"));
        const int prefill = int(table.columnNames().indexOf("prefill tok/s"));
        QCOMPARE(table.cellText(0, prefill), QString("1234")); // the nf4 row carries one
        QCOMPARE(table.cellText(1, prefill), QString());       // older rows have none
        const int peak = int(table.columnNames().indexOf("working MiB"));
        QCOMPARE(table.cellText(0, peak), QString("1.5"));
        QCOMPARE(table.cellText(1, peak), QString());
        table.setFilter("FP32"); // case-insensitive, any cell
        QCOMPARE(table.visibleRowCount(), 2);
        const QString md = table.markdown();
        QVERIFY(md.startsWith("| model | precision | task | dataset | n | accuracy % |"));
        QCOMPARE(md.count('\n'), 4); // header, rule, two rows
        QVERIFY(md.contains("| base | fp32 | gpqa |"));
        QVERIFY(table.csv().startsWith("model,precision,task,dataset,n,accuracy %,95% CI,"));
        QVERIFY(!table.csv().contains("nf4"));
        // A row computed with bf16 products says so beside its precision.
        json bf16 = accuracyRows()[0];
        bf16["arithmetic"] = "bf16";
        table.setFilter({});
        table.setRows(json::array({bf16}));
        QCOMPARE(table.cellText(0, int(table.columnNames().indexOf("precision"))),
                 QString("fp32 · bf16"));
    }

    void evaluationRowsFillTheAccuracyChartWhileARunGoes()
    {
        QWidget parent;
        qbui::ChartSet charts(&parent);
        qb::Event e;
        e.kind = qb::Event::Kind::Metric;
        e.node = "eval";
        e.name = "accuracy/gsm8k";
        e.data = accuracyRows()[0];
        e.value = 0.5;
        charts.addEvent(e);
        QCOMPARE(int(charts.accuracy()->rows().size()), 1);
        QVERIFY(charts.metrics()->seriesNames().isEmpty()); // not a step series
        e.name = "loss";
        e.data = nullptr;
        charts.addEvent(e);
        QCOMPARE(charts.metrics()->seriesNames(), QStringList{"loss"});
        charts.clear();
        QVERIFY(charts.accuracy()->rows().empty());
    }

    void recoveryChartComputesTheShareOfTheDropWonBack()
    {
        // full 0.9, int2 0.6, +qlora 0.825 on gsm: (0.825 - 0.6) / (0.9 - 0.6) = 75%.
        const json rows = json::array({
            {{"model", "base"}, {"label", "fp32"}, {"task", "gsm8k"}, {"dataset", "gsm"},
             {"stage", "full"}, {"accuracy", 0.9}, {"ci_low", 0.85}, {"ci_high", 0.93}},
            {{"model", "int2"}, {"label", "int2"}, {"task", "gsm8k"}, {"dataset", "gsm"},
             {"stage", "quantized"}, {"accuracy", 0.6}},
            {{"model", "qlora"}, {"label", "int2+qlora"}, {"task", "gsm8k"}, {"dataset", "gsm"},
             {"stage", "qlora"}, {"base", "int2"}, {"accuracy", 0.825}},
            {{"model", "int2"}, {"label", "int2-g64"}, {"bits_per_param", 2.6}}}); // not a row
        qbui::RecoveryChart chart;
        chart.setRows(rows);
        QVERIFY(chart.hasData());
        QCOMPARE(int(chart.bars().size()), 3);
        QVERIFY(std::isnan(chart.bars()[0].recovered));
        QVERIFY(std::isnan(chart.bars()[1].recovered));
        QVERIFY(std::abs(chart.bars()[2].recovered - 0.75) < 1e-12);
        chart.flush();
        QCOMPARE(chart.plot()->itemCount(), 1); // the "75%" label
        // W4A4KV4: the recovered model is compared with its base under the same KV cache and with
        // full precision under a float32 one: (0.8 - 0.5) / (0.9 - 0.5) = 75%. A drop inside the
        // intervals (gpqa: 0.84 against 0.826) gets no share.
        const json kv = json::array({
            {{"model", "base"}, {"task", "gsm8k"}, {"dataset", "gsm"}, {"stage", "full"},
             {"kv_cache", "int4"}, {"accuracy", 0.88}},
            {{"model", "base"}, {"task", "gsm8k"}, {"dataset", "gsm"}, {"stage", "full"},
             {"accuracy", 0.9}},
            {{"model", "w4a4"}, {"task", "gsm8k"}, {"dataset", "gsm"}, {"stage", "quantized"},
             {"accuracy", 0.6}},
            {{"model", "w4a4"}, {"task", "gsm8k"}, {"dataset", "gsm"}, {"stage", "quantized"},
             {"kv_cache", "int4"}, {"accuracy", 0.5}},
            {{"model", "qlora"}, {"task", "gsm8k"}, {"dataset", "gsm"}, {"stage", "qlora"},
             {"base", "w4a4"}, {"kv_cache", "int4"}, {"accuracy", 0.8}},
            {{"model", "base"}, {"task", "gpqa"}, {"dataset", "gpqa"}, {"stage", "full"},
             {"accuracy", 0.84}, {"ci_low", 0.805}, {"ci_high", 0.87}},
            {{"model", "w4a4"}, {"task", "gpqa"}, {"dataset", "gpqa"}, {"stage", "quantized"},
             {"kv_cache", "int4"}, {"accuracy", 0.826}, {"ci_low", 0.79}, {"ci_high", 0.857}},
            {{"model", "qlora"}, {"task", "gpqa"}, {"dataset", "gpqa"}, {"stage", "qlora"},
             {"base", "w4a4"}, {"kv_cache", "int4"}, {"accuracy", 0.84}}});
        qbui::RecoveryChart cached;
        cached.setRows(kv);
        QCOMPARE(int(cached.bars().size()), 8);
        QVERIFY(std::abs(cached.bars()[4].recovered - 0.75) < 1e-12);
        QVERIFY(std::isnan(cached.bars()[7].recovered));
        // Without a recovered stage there is nothing to show.
        qbui::RecoveryChart plain;
        plain.setRows(accuracyRows());
        QVERIFY(!plain.hasData());
    }

    void chainChartDrawsOneLinePerModelWithIntervals()
    {
        const json rows = json::array(
            {{{"model", "base"}, {"label", "fp32"}, {"task", "gsm8k"}, {"dataset", "gsm"},
              {"accuracy", 0.9},
              {"by_steps",
               {{{"steps", 2}, {"n", 10}, {"correct", 10}, {"accuracy", 1.0}, {"ci_low", 0.72},
                 {"ci_high", 1.0}},
                {{"steps", 4}, {"n", 10}, {"correct", 8}, {"accuracy", 0.8}, {"ci_low", 0.49},
                 {"ci_high", 0.94}}}}},
             {{"model", "q"}, {"label", "int2"}, {"task", "gsm8k"}, {"dataset", "gsm"},
              {"accuracy", 0.5},
              {"by_steps", {{{"steps", 3}, {"n", 4}, {"correct", 2}, {"accuracy", 0.5}}}}}});
        qbui::ChainChart chart;
        chart.setRows(rows);
        QCOMPARE(int(chart.lines().size()), 1); // one chain length is not a line
        QCOMPARE(chart.lines()[0].series, QString("fp32 · gsm"));
        QCOMPARE(chart.lines()[0].steps, (QVector<double>{2, 4}));
        chart.flush();
        QCOMPARE(chart.plot()->graphCount(), 1);
        QCOMPARE(chart.plot()->graph(0)->data()->at(1)->value, 80.0);
    }


    // GRPO's per-step series go to the rewards chart (not the metrics chart); held-out accuracy of
    // a GRPO node shows in both; a finetune node's loss stays in the metrics chart only.
    void grpoSeriesFeedTheRewardChart()
    {
        QWidget host;
        qbui::ChartSet charts(&host);
        auto send = [&](const char *node, const char *name, double step, double value) {
            qb::Event e;
            e.kind = qb::Event::Kind::Metric;
            e.node = node;
            e.name = name;
            e.step = step;
            e.value = value;
            charts.addEvent(e);
        };
        for (int step = 0; step < 3; ++step) {
            send("grpo", "reward", step, 0.5 + 0.1 * step);
            send("grpo", "reward_std", step, 0.2);
            send("grpo", "reward/correctness", step, 0.4 + 0.1 * step);
            send("grpo", "kl", step, 0.01 * step);
            send("grpo", "completion_length", step, 60 - step);
            send("grpo", "truncated", step, 0.1);
        }
        send("grpo", "eval_accuracy/dev", 3, 0.9);
        send("qlora", "loss", 0, 1.5);
        send("qlora", "eval_accuracy/dev", 50, 0.8);
        qbui::RewardChart *r = charts.rewards();
        QVERIFY(r->hasData());
        QCOMPARE(r->pointCount("grpo", "reward"), 3);
        QCOMPARE(r->pointCount("grpo", "eval_accuracy/dev"), 1);
        QCOMPARE(charts.metrics()->pointCount("grpo", "reward"), 0);
        QCOMPARE(charts.metrics()->pointCount("grpo", "eval_accuracy/dev"), 1);
        QCOMPARE(charts.metrics()->pointCount("qlora", "loss"), 1);
        QCOMPARE(r->pointCount("qlora", "loss"), 0);

        r->setCurrentPage("reward");
        QCOMPARE(r->graphNames(), (QStringList{"mean reward", "correctness", "held-out greedy: dev"}));
        // The band: reward +- std at step 2 is 0.7 +- 0.2 (graphs 1 and 2 after the mean).
        QCOMPARE(r->plot()->graph(1)->data()->at(2)->value, 0.9);
        QVERIFY(std::abs(r->plot()->graph(2)->data()->at(2)->value - 0.5) < 1e-12);
        r->setCurrentPage("policy");
        QCOMPARE(r->graphNames(), (QStringList{"kl"}));
        QCOMPARE(r->plot()->graph(0)->data()->at(2)->value, 0.02);
        r->setCurrentPage("length");
        QCOMPARE(r->graphNames(), (QStringList{"completion_length", "truncated"}));
        QVERIFY(r->plot()->yAxis2->visible());
        QCOMPARE(charts.figures().size() >= 3, true); // the three GRPO pages export
    }

    void temperatureChartLinePerPrecisionWithDrop()
    {
        qbui::TemperatureChart chart;
        chart.setRows(sweepRows());
        QCOMPARE(chart.pages(), (QStringList{"gsm · cot", "gsm · direct"}));
        const auto lines = chart.lines("gsm · cot");
        QCOMPARE(int(lines.size()), 2);
        QCOMPARE(lines[0].series, QString("base · fp32"));
        QCOMPARE(lines[0].temperature, (QVector<double>{0, 0.7, 1.3}));
        QCOMPARE(lines[1].accuracy, (QVector<double>{0.5, 0.4, 0.1}));
        QCOMPARE(lines[1].ciHigh[2], 0.15);
        // Largest drop from greedy: fp32 0.90 - 0.60, int2 0.50 - 0.10 (maj@5 rows excluded).
        QVERIFY(std::abs(lines[0].maxDrop - 0.30) < 1e-12);
        QVERIFY(std::abs(lines[1].maxDrop - 0.40) < 1e-12);
        chart.setCurrentPage("gsm · cot");
        chart.flush();
        QCOMPARE(chart.plot()->graphCount(), 2);
        QCOMPARE(chart.plot()->graph(1)->data()->size(), 3);
        QCOMPARE(chart.plot()->graph(1)->data()->at(1)->value, 40.0);
        QVERIFY(chart.plot()->graph(0)->name().contains("30.0"));
        // The direct page: fp32 greedy alone.
        QCOMPARE(int(chart.lines("gsm · direct").size()), 1);
    }

    void majorityChartGreedyThenEachK()
    {
        qbui::MajorityChart chart;
        chart.setRows(sweepRows());
        QCOMPARE(chart.pages(), (QStringList{"gsm · cot · T 0.7", "gsm · cot · T 1.3"}));
        const auto groups = chart.groups("gsm · cot · T 1.3");
        QCOMPARE(int(groups.size()), 2);
        QCOMPARE(groups[1].precision, QString("int2 · int2-g64"));
        QCOMPARE(int(groups[1].bars.size()), 3);
        QCOMPARE(groups[1].bars[0].series, QString("greedy"));
        QCOMPARE(groups[1].bars[0].accuracy, 0.5);
        QCOMPARE(groups[1].bars[2].series, QString("maj@5"));
        QCOMPARE(groups[1].bars[2].accuracy, 0.2);
        chart.setCurrentPage("gsm · cot · T 1.3");
        chart.flush();
        QCPBars *maj5 = barsNamed(chart.plot(), "maj@5");
        QVERIFY(maj5);
        QCOMPARE(maj5->data()->size(), 2);
        QVERIFY(std::abs(maj5->data()->at(0)->value - 75.0) < 1e-9);
        QVERIFY(barsNamed(chart.plot(), "greedy"));
        QVERIFY(barsNamed(chart.plot(), "maj@1"));
    }

    void extractionChartStrictFlexibleUnparsed()
    {
        qbui::ExtractionChart chart;
        chart.setRows(sweepRows());
        QCOMPARE(chart.pages(), (QStringList{"gsm · cot", "gsm · direct"}));
        const auto cells = chart.audit("gsm · cot");
        QCOMPARE(int(cells.size()), 10);
        QCOMPARE(cells[4].setting, QString("T=1.3 maj@5"));
        QCOMPARE(cells[8].precision, QString("int2 · int2-g64"));
        QCOMPARE(cells[8].strict, 0.10);
        QCOMPARE(cells[8].flexible, 0.20);
        QCOMPARE(cells[8].unparsed, 0.40);
        chart.setCurrentPage("gsm · cot");
        chart.flush();
        QCOMPARE(chart.plot()->graphCount(), 2); // unparsed markers per precision
        QCOMPARE(chart.plot()->plottableCount(), 6); // + strict and flexible bars
        QCOMPARE(chart.plot()->graph(1)->data()->at(3)->value, 40.0);
        QCOMPARE(barsNamed(chart.plot(), "base · fp32")->data()->at(0)->value, 90.0);
    }

    void sweepRowsGoToTheDecodingChartsOnly()
    {
        QWidget parent;
        qbui::ChartSet charts(&parent);
        json rows = sweepRows();
        rows.push_back(accuracyRows()[0]);
        charts.setResults(json{{"results", rows}});
        QCOMPARE(int(charts.accuracy()->rows().size()), 1); // the evaluate row alone
        QVERIFY(!charts.chains()->hasData());
        QVERIFY(charts.temperature()->hasData());
        QCOMPARE(charts.table()->rowCount(), 12);
        QStringList stems;
        for (const auto &f : charts.figures())
            stems << f.stem;
        QVERIFY(stems.contains("temperature-gsm_cot"));
        QVERIFY(stems.contains("majority-gsm_cot_T_0.7"));
        QVERIFY(stems.contains("extraction-gsm_direct"));
        // Live: a sweep row arriving as a metric event feeds the charts while the node runs.
        charts.clear();
        qb::Event e;
        e.kind = qb::Event::Kind::Metric;
        e.node = "sweep";
        e.name = "sweep_accuracy/gsm8k";
        e.data = sweepRows()[1];
        charts.addEvent(e);
        QCOMPARE(charts.temperature()->pages(), QStringList{"gsm · cot"});
        QVERIFY(charts.accuracy()->rows().empty());
    }

private:
    fs::path m_tmp;

};

QTEST_MAIN(TestCharts)
#include "tst_charts.moc"
