#include "chart_set.h"

#include "api/results.h"

#include <QDir>
#include <QRegularExpression>

#include <map>
#include <set>

namespace qbui {

namespace {

// Page ids hold node ids and layer names ("err_nf4/model.layers.0.mlp.up_proj"): keep what is
// safe in a file name everywhere.
QString fileSafe(const QString &text)
{
    static const QRegularExpression unsafe(QStringLiteral("[^A-Za-z0-9_.-]+"));
    QString out = text;
    out.replace(unsafe, QStringLiteral("_"));
    return out;
}

} // namespace

ChartSet::ChartSet(QWidget *parent)
    : m_metrics(new MetricChart(parent)), m_accuracy(new AccuracyChart(parent)),
      m_recovery(new RecoveryChart(parent)), m_chains(new ChainChart(parent)),
      m_rewards(new RewardChart(parent)),
      m_temperature(new TemperatureChart(parent)), m_majority(new MajorityChart(parent)),
      m_extraction(new ExtractionChart(parent)),
      m_layerError(new LayerErrorChart(parent)), m_histogram(new WeightHistogramChart(parent)),
      m_sensitivity(new SensitivityChart(parent)), m_flips(new FlipsView(parent)),
      m_table(new ResultsTable(parent))
{}

std::vector<ChartWidget *> ChartSet::charts() const
{
    return {m_metrics,  m_accuracy,    m_recovery,   m_chains,     m_rewards,
            m_temperature, m_majority, m_extraction, m_layerError, m_histogram,
            m_sensitivity};
}

void ChartSet::clear()
{
    m_liveRows = nlohmann::json::array();
    m_table->setRows(m_liveRows);
    for (ChartWidget *c : charts())
        c->clear();
}

void ChartSet::setEvaluationRows(const nlohmann::json &rows)
{
    // A sweep row is one setting of many; among the per-precision bars it would read as
    // another model.
    nlohmann::json plain = nlohmann::json::array(), sweep = nlohmann::json::array();
    if (rows.is_array())
        for (const auto &r : rows)
            (r.is_object() && r.contains("prompt_style") ? sweep : plain).push_back(r);
    m_accuracy->setRows(plain);
    m_recovery->setRows(plain);
    m_chains->setRows(plain);
    m_temperature->setRows(sweep);
    m_majority->setRows(sweep);
    m_extraction->setRows(sweep);
    m_table->setRows(rows);
}

void ChartSet::addEvent(const qb::Event &event)
{
    if (event.kind != qb::Event::Kind::Metric)
        return;
    const QString node = QString::fromStdString(event.node);
    // An evaluation row as it finishes: the accuracy charts fill while the evaluation runs.
    if (qb::EvalRow::matches(event.data)) {
        m_liveRows.push_back(event.data);
        setEvaluationRows(m_liveRows);
        return;
    }
    // The analysis payloads have charts of their own; their value alone (a level count, a KL at
    // some bits/param) would be a meaningless series among the metrics.
    if (event.name == "layer_error") {
        m_layerError->addLayerError(event.data, node);
        // The analysis names the model it measured ("nf4-b64") before results.json exists.
        if (event.data.is_object() && event.data.contains("label") && event.data["label"].is_string())
            m_layerError->setNodeLabel(node, QString::fromStdString(event.data["label"].get<std::string>()));
    }
    else if (event.name == "weight_histogram")
        m_histogram->addHistogram(node, event.data);
    else if (event.name == "sensitivity.curve")
        m_sensitivity->addCurvePoint(node, event.data, event.step, event.value);
    else if (event.name == "sensitivity.allocation")
        m_sensitivity->setAllocation(node, event.data, event.step, event.value);
    else {
        const QString name = QString::fromStdString(event.name);
        // GRPO's per-step series have their own chart; held-out accuracy shows in both.
        m_rewards->addPoint(node, name, event.step, event.value);
        if (!RewardChart::isRlSeries(name))
            m_metrics->addPoint(node, name, event.step, event.value, event.x,
                                QString::fromStdString(event.unit));
    }
}

void ChartSet::setResults(const nlohmann::json &results)
{
    const nlohmann::json rows =
        results.is_object() ? results.value("results", nlohmann::json::array()) : results;
    setEvaluationRows(rows);
    if (!results.is_object())
        return;
    // results.json names each node's output ("nf4-b64" for the model an analysis measured).
    const auto nodes = results.find("nodes");
    if (nodes == results.end() || !nodes->is_object())
        return;
    for (const auto &[id, info] : nodes->items()) {
        if (!info.is_object() || !info.contains("meta") || !info["meta"].is_object())
            continue;
        const auto &meta = info["meta"];
        if (meta.contains("label") && meta["label"].is_string())
            m_layerError->setNodeLabel(QString::fromStdString(id),
                                       QString::fromStdString(meta["label"].get<std::string>()));
    }
}

void ChartSet::loadRun(const RunRecord &run)
{
    clear();
    for (const qb::Event &e : run.events)
        addEvent(e);
    setResults(run.results.is_object() ? run.results : run.resultRows());
}

std::vector<ChartSet::Figure> ChartSet::figures(bool includeEmpty) const
{
    std::vector<Figure> out;
    std::set<QString> stems;
    for (ChartWidget *chart : charts()) {
        if (!includeEmpty && !chart->hasData())
            continue;
        const QStringList pages = chart->pages();
        if (pages.size() <= 1) {
            out.push_back({chart, {}, chart->fileStem(), chart->title()});
            stems.insert(chart->fileStem());
            continue;
        }
        for (const QString &page : pages) {
            QString stem = chart->fileStem() + QLatin1Char('-') + fileSafe(page);
            for (int i = 2; stems.count(stem); ++i)
                stem = chart->fileStem() + QLatin1Char('-') + fileSafe(page) + QString::number(i);
            stems.insert(stem);
            out.push_back({chart, page, stem,
                           chart->title() + QStringLiteral(": ") + chart->pageTitle(page)});
        }
    }
    return out;
}

QStringList ChartSet::exportFigures(const QString &dir, int width, int height, QStringList *files,
                                    bool includeEmpty) const
{
    QStringList problems;
    if (!QDir().mkpath(dir))
        return {QObject::tr("%1: cannot create folder").arg(dir)};
    std::map<ChartWidget *, QString> shownBefore;
    for (const Figure &f : figures(includeEmpty)) {
        if (!f.page.isEmpty()) {
            shownBefore.emplace(f.chart, f.chart->currentPage());
            f.chart->setCurrentPage(f.page);
        }
        for (const char *suffix : {".png", ".svg", ".pdf"}) {
            const QString path = QDir(dir).filePath(f.stem + suffix);
            const QString error = f.chart->exportTo(path, width, height);
            if (error.isEmpty())
                files->append(path);
            else
                problems << error;
        }
    }
    for (const auto &[chart, page] : shownBefore) {
        chart->setCurrentPage(page);
        chart->flush();
    }
    return problems;
}

} // namespace qbui
