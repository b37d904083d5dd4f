#include "chain_chart.h"

#include "qcp.h"

#include "api/results.h"

namespace qbui {

ChainChart::ChainChart(QWidget *parent)
    : ChartWidget(tr("Accuracy by reasoning steps"), QStringLiteral("chain_length"), parent)
{
    plot()->xAxis->setLabel(tr("reasoning steps in the reference solution"));
    plot()->yAxis->setLabel(tr("accuracy (%)"));
    plot()->legend->setVisible(true);
    plot()->legend->setFont(QFont(font().family(), 8));
}

void ChainChart::setRows(const nlohmann::json &rows)
{
    m_lines.clear();
    if (rows.is_array())
        for (const auto &r : rows) {
            if (!qb::EvalRow::matches(r))
                continue;
            const qb::EvalRow e = qb::EvalRow::fromJson(r);
            if (e.bySteps.size() < 2)
                continue;
            Line l;
            l.series = QString::fromStdString((e.label.empty() ? e.model : e.label) + " · "
                                              + e.dataset);
            for (const auto &b : e.bySteps) {
                l.steps << b.steps;
                l.accuracy << b.accuracy;
                l.ciLow << b.ciLow;
                l.ciHigh << b.ciHigh;
            }
            m_lines.push_back(l);
        }
    requestReplot();
}

void ChainChart::clear()
{
    m_lines.clear();
    requestReplot();
}

void ChainChart::rebuild()
{
    static const QColor colors[] = {QColor(0x4c, 0x72, 0xb0), QColor(0xc4, 0x4e, 0x52),
                                    QColor(0x55, 0xa8, 0x68), QColor(0xdd, 0x84, 0x52),
                                    QColor(0x81, 0x72, 0xb3), QColor(0x93, 0x78, 0x60),
                                    QColor(0xda, 0x8b, 0xc3), QColor(0x2a, 0x9d, 0x8f),
                                    QColor(0x8c, 0x8c, 0x8c), QColor(0xcc, 0xb9, 0x74)};
    QCustomPlot *p = plot();
    p->clearPlottables();
    double lo = 1e9, hi = -1e9;
    for (size_t i = 0; i < m_lines.size(); ++i) {
        const Line &l = m_lines[i];
        const QColor c = colors[i % 10];
        QCPGraph *g = p->addGraph();
        g->setName(l.series);
        g->setPen(QPen(c, 2));
        g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, c, c, 6));
        QVector<double> y, minus, plus;
        for (int k = 0; k < l.steps.size(); ++k) {
            y << 100 * l.accuracy[k];
            minus << 100 * std::max(0.0, l.accuracy[k] - l.ciLow[k]);
            plus << 100 * std::max(0.0, l.ciHigh[k] - l.accuracy[k]);
            lo = std::min(lo, l.steps[k]);
            hi = std::max(hi, l.steps[k]);
        }
        g->setData(l.steps, y, true);
        auto *errors = new QCPErrorBars(p->xAxis, p->yAxis);
        errors->removeFromLegend();
        errors->setPen(QPen(c, 1));
        errors->setDataPlottable(g);
        errors->setData(minus, plus);
    }
    if (lo <= hi)
        p->xAxis->setRange(lo - 0.5, hi + 0.5);
    p->yAxis->setRange(0, 105);
}

} // namespace qbui
