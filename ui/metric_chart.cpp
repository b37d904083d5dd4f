#include "metric_chart.h"

#include "qcp.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>

namespace qbui {

namespace {

QColor seriesColor(int i)
{
    static const QColor colors[] = {QColor(0x1f, 0x77, 0xb4), QColor(0xff, 0x7f, 0x0e),
                                    QColor(0x2c, 0xa0, 0x2c), QColor(0xd6, 0x27, 0x28),
                                    QColor(0x94, 0x67, 0xbd), QColor(0x8c, 0x56, 0x4b),
                                    QColor(0xe3, 0x77, 0xc2), QColor(0x7f, 0x7f, 0x7f),
                                    QColor(0xbc, 0xbd, 0x22), QColor(0x17, 0xbe, 0xcf)};
    return colors[i % 10];
}

const qb::MetricX kViews[] = {qb::MetricX::Step, qb::MetricX::Layer, qb::MetricX::Bits,
                              qb::MetricX::None};

QString viewId(qb::MetricX x) { return QString::fromStdString(qb::toString(x)); }

QString xLabel(qb::MetricX x)
{
    switch (x) {
    case qb::MetricX::Step: return MetricChart::tr("training step");
    case qb::MetricX::Layer: return MetricChart::tr("layer index");
    case qb::MetricX::Bits: return MetricChart::tr("bits/param");
    case qb::MetricX::None: return QString();
    }
    return QString();
}

// Pads a zero-height range (a flat or single-point series) and leaves room around the data.
void padRange(QCPAxis *axis)
{
    const QCPRange r = axis->range();
    if (r.size() < 1e-12)
        axis->setRange(r.lower - 1, r.upper + 1);
    else
        axis->scaleRange(1.08, r.center());
}

} // namespace

MetricChart::MetricChart(QWidget *parent)
    : ChartWidget(tr("Metrics"), QStringLiteral("metrics"), parent), m_view(new QComboBox),
      m_filter(new QComboBox)
{
    m_view->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    m_view->setToolTip(tr("What the x axis is: each series is drawn against its own kind of x"));
    m_filter->addItem(tr("All series"), QString());
    m_filter->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    toolRow()->insertWidget(0, new QLabel(tr("Over:")));
    toolRow()->insertWidget(1, m_view);
    toolRow()->insertWidget(2, new QLabel(tr("Series:")));
    toolRow()->insertWidget(3, m_filter);
    connect(m_view, &QComboBox::currentIndexChanged, this, [this] { requestReplot(); });
    connect(m_filter, &QComboBox::currentIndexChanged, this, [this] { requestReplot(); });
    plot()->legend->setVisible(false); // until there is a series
    plot()->legend->setFont(QFont(font().family(), 8));
    plot()->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    updateViews();
}

void MetricChart::addPoint(const QString &node, const QString &series, double step, double value,
                           qb::MetricX x, const QString &unit)
{
    Series &s = m_series[{node, series}];
    if (s.steps.isEmpty()) {
        s.x = x;
        s.unit = unit;
    }
    s.steps.push_back(step);
    s.values.push_back(value);
    if (m_filter->findData(series) < 0)
        m_filter->addItem(series, series);
    updateViews();
    requestReplot();
}

void MetricChart::updateViews()
{
    const QStringList have = pages();
    const QString current = currentPage();
    m_view->blockSignals(true);
    m_view->clear();
    for (const QString &id : have)
        m_view->addItem(pageTitle(id), id);
    if (have.isEmpty())
        m_view->addItem(pageTitle(viewId(qb::MetricX::Step)), viewId(qb::MetricX::Step));
    const int keep = m_view->findData(current);
    m_view->setCurrentIndex(keep < 0 ? 0 : keep);
    m_view->blockSignals(false);
}

void MetricChart::clear()
{
    m_series.clear();
    m_filter->blockSignals(true);
    while (m_filter->count() > 1)
        m_filter->removeItem(1);
    m_filter->blockSignals(false);
    updateViews();
    requestReplot();
}

int MetricChart::pointCount(const QString &node, const QString &series) const
{
    auto it = m_series.find({node, series});
    return it == m_series.end() ? 0 : int(it->second.steps.size());
}

QStringList MetricChart::seriesNames() const
{
    QStringList names;
    for (const auto &[key, s] : m_series)
        if (!names.contains(key.second))
            names << key.second;
    return names;
}

void MetricChart::setFilter(const QString &seriesName)
{
    const int i = m_filter->findData(seriesName);
    m_filter->setCurrentIndex(i < 0 ? 0 : i);
}

QStringList MetricChart::pages() const
{
    QStringList out;
    for (qb::MetricX x : kViews)
        for (const auto &[key, s] : m_series)
            if (s.x == x) {
                out << viewId(x);
                break;
            }
    return out;
}

QString MetricChart::currentPage() const { return m_view->currentData().toString(); }

void MetricChart::setCurrentPage(const QString &page)
{
    const int i = m_view->findData(page);
    if (i >= 0)
        m_view->setCurrentIndex(i);
    flush();
}

QString MetricChart::pageTitle(const QString &page) const
{
    if (page == QLatin1String("step"))
        return tr("training steps");
    if (page == QLatin1String("layer"))
        return tr("layers");
    if (page == QLatin1String("bits"))
        return tr("bits/param");
    if (page == QLatin1String("none"))
        return tr("single values");
    return page;
}

void MetricChart::rebuild()
{
    QCustomPlot *p = plot();
    p->clearGraphs();
    // Panels beyond the first are rebuilt; the first axis rect holds the legend and stays.
    QCPLayoutGrid *layout = p->plotLayout();
    while (layout->rowCount() > 1) {
        if (QCPLayoutElement *e = layout->element(layout->rowCount() - 1, 0))
            layout->remove(e);
        layout->simplify();
    }
    QCPAxisRect *first = p->axisRect(0);
    first->axis(QCPAxis::atBottom)->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));

    const QString view = currentPage();
    qb::MetricX x = qb::MetricX::Step;
    for (qb::MetricX k : kViews)
        if (viewId(k) == view)
            x = k;
    const QString filter = m_filter->currentData().toString();

    // Units in first-seen order of the series map; one panel each.
    m_panelUnits.clear();
    std::vector<const std::pair<const std::pair<QString, QString>, Series> *> shown;
    for (const auto &entry : m_series) {
        if (entry.second.x != x || (!filter.isEmpty() && entry.first.second != filter))
            continue;
        shown.push_back(&entry);
        if (!m_panelUnits.contains(entry.second.unit))
            m_panelUnits << entry.second.unit;
    }
    std::vector<QCPAxisRect *> rects{first};
    if (!m_group)
        m_group = new QCPMarginGroup(p);
    QCPMarginGroup *group = m_group;
    first->setMarginGroup(QCP::msLeft | QCP::msRight, group);
    for (int i = 1; i < m_panelUnits.size(); ++i) {
        auto *rect = new QCPAxisRect(p);
        layout->addElement(i, 0, rect);
        rect->setMarginGroup(QCP::msLeft | QCP::msRight, group);
        rects.push_back(rect);
    }
    for (size_t i = 0; i < rects.size(); ++i) {
        const QString unit = i < size_t(m_panelUnits.size()) ? m_panelUnits[int(i)] : QString();
        rects[i]->axis(QCPAxis::atLeft)->setLabel(unit.isEmpty() ? tr("value") : unit);
        // The x label once, under the bottom panel.
        rects[i]->axis(QCPAxis::atBottom)->setLabel(i + 1 == rects.size() ? xLabel(x) : QString());
    }

    // Without an x, each (node, series) is a labelled place on the x axis.
    QSharedPointer<QCPAxisTickerText> names(new QCPAxisTickerText);
    int colour = 0, place = 0;
    for (const auto *entry : shown) {
        const auto &[key, s] = *entry;
        QCPAxisRect *rect = rects[size_t(m_panelUnits.indexOf(s.unit))];
        QCPGraph *g = p->addGraph(rect->axis(QCPAxis::atBottom), rect->axis(QCPAxis::atLeft));
        g->setName(key.first + QStringLiteral(" · ") + key.second
                   + (s.unit.isEmpty() ? QString() : QStringLiteral(" (") + s.unit + ")"));
        g->setPen(QPen(seriesColor(colour++), 2));
        // One point (a single measurement) is invisible as a line: mark points when sparse.
        if (s.steps.size() < 30 || x == qb::MetricX::None)
            g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 7));
        if (x == qb::MetricX::None) {
            g->setLineStyle(QCPGraph::lsNone);
            g->setData(QVector<double>(s.values.size(), double(place)), s.values);
            names->addTick(place++, key.first + QStringLiteral("\n") + key.second);
        } else {
            g->setData(s.steps, s.values);
        }
    }
    if (x == qb::MetricX::None)
        for (QCPAxisRect *r : rects)
            r->axis(QCPAxis::atBottom)->setTicker(names);
    if (x == qb::MetricX::Layer) { // layer indices are whole numbers: no tick at 2.5
        QSharedPointer<QCPAxisTickerFixed> whole(new QCPAxisTickerFixed);
        whole->setTickStep(1);
        whole->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
        for (QCPAxisRect *r : rects)
            r->axis(QCPAxis::atBottom)->setTicker(whole);
    }
    p->legend->setVisible(p->graphCount() > 0);

    // Every panel shares the x range of all of them.
    bool found = false;
    QCPRange xr;
    for (int i = 0; i < p->graphCount(); ++i) {
        bool ok = false;
        const QCPRange r = p->graph(i)->getKeyRange(ok);
        if (ok) {
            xr = found ? QCPRange(std::min(xr.lower, r.lower), std::max(xr.upper, r.upper)) : r;
            found = true;
        }
    }
    for (QCPAxisRect *r : rects) {
        QCPAxis *xa = r->axis(QCPAxis::atBottom), *ya = r->axis(QCPAxis::atLeft);
        if (found)
            xa->setRange(xr);
        padRange(xa);
        if (x == qb::MetricX::None)
            xa->setRange(-0.6, place - 0.4);
        bool anyY = false;
        for (QCPGraph *g : r->graphs()) {
            g->rescaleValueAxis(anyY, true);
            anyY = true;
        }
        padRange(ya);
    }
}

} // namespace qbui
