#include "accuracy_chart.h"

#include "qcp.h"

#include "api/results.h"

namespace qbui {


AccuracyChart::AccuracyChart(QWidget *parent)
    : ChartWidget(tr("Accuracy per precision"), QStringLiteral("accuracy"), parent)
{
    plot()->legend->setVisible(true);
    plot()->legend->setFont(QFont(font().family(), 8));
    // The legend gets its own column right of the bars: with a dozen models it would cover the
    // second task's bars inside the axis rect.
    plot()->axisRect()->insetLayout()->take(plot()->legend);
    plot()->plotLayout()->addElement(0, 1, plot()->legend);
    plot()->plotLayout()->setColumnStretchFactor(1, 0.001);
    plot()->legend->setMargins(QMargins(6, 4, 6, 4));
    plot()->yAxis->setLabel(tr("accuracy (%)"));
    plot()->yAxis2->setLabel(tr("weight memory (MiB)"));
    plot()->yAxis2->setVisible(true);
}

void AccuracyChart::setRows(const nlohmann::json &rows)
{
    m_rows.clear();
    addRows(rows);
}

void AccuracyChart::addRows(const nlohmann::json &rows)
{
    if (!rows.is_array())
        return;
    for (const auto &json : rows) {
        if (!qb::EvalRow::matches(json))
            continue;
        const qb::EvalRow r = qb::EvalRow::fromJson(json);
        Row row;
        const QString label = QString::fromStdString(r.label);
        const QString model = QString::fromStdString(r.model);
        row.series = !label.isEmpty() ? label
            : !r.precision.empty()    ? QString::fromStdString(r.precision)
                                      : model;
        if (!model.isEmpty() && model != row.series && !label.isEmpty())
            row.series = model + QStringLiteral(" · ") + row.series;
        row.task = QString::fromStdString(r.task);
        row.accuracy = r.accuracy;
        row.ciLow = r.ciLow;
        row.ciHigh = r.ciHigh;
        row.weightMiB = double(r.weightBytes) / (1024.0 * 1024.0);
        m_rows.push_back(row);
    }
    requestReplot();
}

void AccuracyChart::clear()
{
    m_rows.clear();
    requestReplot();
}

QStringList AccuracyChart::tasks() const
{
    QStringList out;
    for (const Row &r : m_rows)
        if (!out.contains(r.task))
            out << r.task;
    return out;
}

QStringList AccuracyChart::seriesNames() const
{
    QStringList out;
    for (const Row &r : m_rows)
        if (!out.contains(r.series))
            out << r.series;
    return out;
}

void AccuracyChart::rebuild()
{
    QCustomPlot *p = plot();
    p->clearPlottables();
    const QStringList taskNames = tasks();
    const QStringList names = seriesNames();
    const int n = int(names.size());
    // Bars placed by hand rather than with QCPBarsGroup so the memory markers can sit exactly on
    // their bars.
    const double groupWidth = 0.8;
    const double width = n > 0 ? groupWidth / n : groupWidth;
    QVector<double> memX, memY;
    static const QColor colors[] = {QColor(0x4c, 0x72, 0xb0), QColor(0xdd, 0x84, 0x52),
                                    QColor(0x55, 0xa8, 0x68), QColor(0xc4, 0x4e, 0x52),
                                    QColor(0x81, 0x72, 0xb3), QColor(0x93, 0x78, 0x60),
                                    QColor(0xda, 0x8b, 0xc3), QColor(0x8c, 0x8c, 0x8c)};
    for (int s = 0; s < n; ++s) {
        auto *bars = new QCPBars(p->xAxis, p->yAxis);
        bars->setName(names[s]);
        bars->setWidth(width * 0.92);
        const QColor c = colors[s % 8];
        bars->setPen(QPen(c.darker(130)));
        bars->setBrush(c);
        auto *errors = new QCPErrorBars(p->xAxis, p->yAxis);
        errors->removeFromLegend();
        errors->setPen(QPen(Qt::black, 1.2));
        QVector<double> x, y, minus, plus;
        for (const Row &r : m_rows) {
            if (r.series != names[s])
                continue;
            const double pos = taskNames.indexOf(r.task) + (s - (n - 1) / 2.0) * width;
            x << pos;
            y << 100 * r.accuracy;
            minus << 100 * std::max(0.0, r.accuracy - r.ciLow);
            plus << 100 * std::max(0.0, r.ciHigh - r.accuracy);
            if (r.weightMiB > 0) {
                memX << pos;
                memY << r.weightMiB;
            }
        }
        bars->setData(x, y);
        errors->setDataPlottable(bars);
        errors->setData(minus, plus);
    }
    if (!memX.isEmpty()) {
        QCPGraph *mem = p->addGraph(p->xAxis, p->yAxis2);
        mem->setName(tr("weight memory (MiB)"));
        mem->setLineStyle(QCPGraph::lsNone);
        mem->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDiamond, QPen(Qt::black),
                                             QBrush(QColor(0xf2, 0xc9, 0x4c)), 9));
        mem->setData(memX, memY, false);
        double top = 0;
        for (double v : memY)
            top = std::max(top, v);
        p->yAxis2->setRange(0, top * 1.15);
    }
    QSharedPointer<QCPAxisTickerText> ticker(new QCPAxisTickerText);
    for (int t = 0; t < taskNames.size(); ++t)
        ticker->addTick(t, taskNames[t]);
    p->xAxis->setTicker(ticker);
    p->xAxis->setRange(-0.6, std::max(0, int(taskNames.size()) - 1) + 0.6);
    p->yAxis->setRange(0, 105);
}

} // namespace qbui
