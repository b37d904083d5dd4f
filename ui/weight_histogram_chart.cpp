#include "weight_histogram_chart.h"

#include "qcp.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>

#include <algorithm>

namespace qbui {

namespace {

bool numbers(const nlohmann::json &data, const char *key, QVector<double> *out)
{
    auto it = data.find(key);
    if (it == data.end() || !it->is_array())
        return false;
    out->clear();
    for (const auto &v : *it) {
        if (!v.is_number())
            return false;
        out->push_back(v.get<double>());
    }
    return true;
}

QString text(const nlohmann::json &data, const char *key)
{
    auto it = data.find(key);
    return it != data.end() && it->is_string() ? QString::fromStdString(it->get<std::string>())
                                               : QString();
}

// Steps over the edges: one point per left edge, and the last count repeated at the right edge
// so that the last bin is drawn as wide as the others.
void setSteps(QCPGraph *graph, const QVector<double> &edges, const QVector<double> &counts)
{
    QVector<double> x(edges), y(counts);
    if (!y.isEmpty())
        y.push_back(y.back());
    graph->setData(x, y, true);
}

} // namespace

WeightHistogramChart::WeightHistogramChart(QWidget *parent)
    : ChartWidget(tr("Weight histogram"), QStringLiteral("weight_histogram"), parent),
      m_select(new QComboBox)
{
    m_select->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    m_select->setToolTip(tr("Which analysis node and layer to show"));
    toolRow()->insertWidget(0, new QLabel(tr("Layer:")));
    toolRow()->insertWidget(1, m_select);
    connect(m_select, &QComboBox::currentIndexChanged, this, [this] { requestReplot(); });

    QCustomPlot *p = plot();
    p->plotLayout()->insertRow(0);
    m_title = new QCPTextElement(p, QString(), QFont(font().family(), 9));
    p->plotLayout()->addElement(0, 0, m_title);
    p->legend->setVisible(true);
    p->legend->setFont(QFont(font().family(), 8));
    p->xAxis->setLabel(tr("weight value"));
    p->yAxis->setLabel(tr("count"));

    m_reference = p->addGraph();
    m_reference->setName(tr("reference"));
    m_reference->setLineStyle(QCPGraph::lsStepLeft);
    m_reference->setPen(QPen(QColor(0x4c, 0x72, 0xb0), 1.5));
    m_reference->setBrush(QColor(0x4c, 0x72, 0xb0, 70));
    m_quantized = p->addGraph();
    m_quantized->setName(tr("quantized"));
    m_quantized->setLineStyle(QCPGraph::lsStepLeft);
    m_quantized->setPen(QPen(QColor(0xdd, 0x84, 0x52), 1.5));
    m_quantized->setBrush(QColor(0xdd, 0x84, 0x52, 60));
    // Impulses of height 1 on a fixed 0..1 axis span the plot whatever the counts are.
    m_levels = p->addGraph(p->xAxis, p->yAxis2);
    m_levels->setName(tr("quantization levels"));
    m_levels->setLineStyle(QCPGraph::lsImpulse);
    m_levels->setPen(QPen(QColor(0x7a, 0x1f, 0x2b, 150), 0.8));
    p->yAxis2->setRange(0, 1);
    p->yAxis2->setVisible(false);
}

bool WeightHistogramChart::addHistogram(const QString &node, const nlohmann::json &data,
                                        QString *error)
{
    auto fail = [error](const QString &why) {
        if (error)
            *error = why;
        return false;
    };
    if (!data.is_object())
        return fail(tr("weight_histogram: data is not an object"));
    Histogram h;
    h.node = node;
    h.layer = text(data, "layer");
    h.kind = text(data, "kind");
    h.levelsSource = text(data, "levels_source");
    if (!numbers(data, "bin_edges", &h.edges) || h.edges.size() < 2)
        return fail(tr("weight_histogram: bin_edges must hold at least two numbers"));
    if (!std::is_sorted(h.edges.begin(), h.edges.end()))
        return fail(tr("weight_histogram: bin_edges are not ascending"));
    const qsizetype bins = h.edges.size() - 1;
    if (!numbers(data, "reference_counts", &h.reference) || h.reference.size() != bins)
        return fail(tr("weight_histogram: reference_counts must hold %1 numbers").arg(bins));
    if (!numbers(data, "quantized_counts", &h.quantized) || h.quantized.size() != bins)
        return fail(tr("weight_histogram: quantized_counts must hold %1 numbers").arg(bins));
    if (data.contains("levels") && !data["levels"].is_null()
        && !numbers(data, "levels", &h.levels))
        return fail(tr("weight_histogram: levels must be numbers"));
    std::sort(h.levels.begin(), h.levels.end());

    const QString page = node + QLatin1Char('/') + h.layer;
    const bool known = m_histograms.count(page) > 0;
    m_histograms[page] = std::move(h);
    if (!known)
        m_select->addItem(pageTitle(page), page);
    requestReplot();
    return true;
}

const WeightHistogramChart::Histogram *WeightHistogramChart::histogram(const QString &page) const
{
    auto it = m_histograms.find(page);
    return it == m_histograms.end() ? nullptr : &it->second;
}

const WeightHistogramChart::Histogram *WeightHistogramChart::shown() const
{
    return histogram(currentPage());
}

QString WeightHistogramChart::plotTitle() const
{
    return m_title->text();
}

void WeightHistogramChart::clear()
{
    m_histograms.clear();
    m_select->blockSignals(true);
    m_select->clear();
    m_select->blockSignals(false);
    requestReplot();
}

QStringList WeightHistogramChart::pages() const
{
    QStringList out;
    for (int i = 0; i < m_select->count(); ++i)
        out << m_select->itemData(i).toString();
    return out;
}

QString WeightHistogramChart::currentPage() const
{
    return m_select->currentData().toString();
}

void WeightHistogramChart::setCurrentPage(const QString &page)
{
    const int i = m_select->findData(page);
    if (i >= 0)
        m_select->setCurrentIndex(i);
}

QString WeightHistogramChart::pageTitle(const QString &page) const
{
    const Histogram *h = histogram(page);
    if (!h)
        return page;
    return h->node.isEmpty() ? h->layer : h->node + QStringLiteral(": ") + h->layer;
}

void WeightHistogramChart::rebuild()
{
    QCustomPlot *p = plot();
    const Histogram *h = shown();
    if (!h) {
        for (QCPGraph *g : {m_reference, m_quantized, m_levels})
            g->data()->clear();
        m_title->setText(QString());
        return;
    }
    setSteps(m_reference, h->edges, h->reference);
    setSteps(m_quantized, h->edges, h->quantized);
    m_quantized->setName(h->kind.isEmpty() ? tr("quantized") : tr("quantized (%1)").arg(h->kind));
    m_levels->setData(h->levels, QVector<double>(h->levels.size(), 1.0), true);
    m_levels->setName(tr("quantization levels (%1)").arg(h->levels.size()));
    QString title = h->layer;
    if (!h->kind.isEmpty())
        title += QStringLiteral(" · ") + h->kind;
    if (!h->node.isEmpty())
        title += QStringLiteral(" · ") + h->node;
    title += QLatin1Char('\n') + tr("levels: %1")
                                     .arg(h->levelsSource.isEmpty() ? tr("not given")
                                                                    : h->levelsSource);
    m_title->setText(title);

    double lo = h->edges.front(), hi = h->edges.back();
    if (!h->levels.isEmpty()) {
        lo = std::min(lo, h->levels.front());
        hi = std::max(hi, h->levels.back());
    }
    const double pad = (hi - lo) * 0.03;
    p->xAxis->setRange(lo - pad, hi + pad);
    double top = 0;
    for (const QVector<double> *counts : {&h->reference, &h->quantized})
        for (double c : *counts)
            top = std::max(top, c);
    p->yAxis->setRange(0, top > 0 ? top * 1.08 : 1);
}

} // namespace qbui
