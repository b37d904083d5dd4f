#include "recovery_chart.h"

#include "qcp.h"

#include "api/results.h"

#include <cmath>

namespace qbui {

namespace {

// quantizedIndex: the series' place among the quantized models (8-bit baseline, then the
// low-bit one, ...), so that they stay distinct.
QColor stageColor(const QString &stage, int quantizedIndex)
{
    if (stage == QLatin1String("full"))
        return QColor(0x4c, 0x72, 0xb0);
    if (stage == QLatin1String("quantized")) {
        static const QColor shades[] = {QColor(0x93, 0x78, 0x60), QColor(0xc4, 0x4e, 0x52),
                                        QColor(0x8c, 0x8c, 0x8c), QColor(0xda, 0x8b, 0xc3)};
        return shades[quantizedIndex % 4];
    }
    if (stage == QLatin1String("qlora"))
        return QColor(0x55, 0xa8, 0x68);
    if (stage == QLatin1String("qalora"))
        return QColor(0x2a, 0x9d, 0x8f);
    if (stage == QLatin1String("qat"))
        return QColor(0xdd, 0x84, 0x52);
    return QColor(0x81, 0x72, 0xb3);
}

} // namespace

RecoveryChart::RecoveryChart(QWidget *parent)
    : ChartWidget(tr("Recovery per stage"), QStringLiteral("recovery"), parent)
{
    plot()->yAxis->setLabel(tr("accuracy (%)"));
    plot()->legend->setVisible(true);
    plot()->legend->setFont(QFont(font().family(), 8));
    plot()->axisRect()->insetLayout()->take(plot()->legend);
    plot()->plotLayout()->addElement(0, 1, plot()->legend);
    plot()->plotLayout()->setColumnStretchFactor(1, 0.001);
}

void RecoveryChart::setRows(const nlohmann::json &rows)
{
    m_bars.clear();
    std::vector<qb::EvalRow> evals;
    if (rows.is_array())
        for (const auto &r : rows)
            if (qb::EvalRow::matches(r))
                evals.push_back(qb::EvalRow::fromJson(r));
    // The base as evaluated with the same KV cache as the recovered model (a W4A4KV4 study
    // evaluates its 4-bit models with an INT4 cache).
    auto find = [&](const std::string &model, const std::string &dataset,
                    const std::string &kv) -> const qb::EvalRow * {
        for (const auto &e : evals)
            if (e.model == model && e.dataset == dataset && e.kvCache == kv)
                return &e;
        return nullptr;
    };
    for (const auto &e : evals) {
        Bar b;
        b.series = QString::fromStdString(e.label.empty() ? e.model : e.label);
        b.stage = QString::fromStdString(e.stage.empty() ? "quantized" : e.stage);
        b.task = QString::fromStdString(e.dataset.empty() ? e.task : e.dataset);
        b.accuracy = e.accuracy;
        b.ciLow = e.ciLow;
        b.ciHigh = e.ciHigh;
        const qb::EvalRow *base = e.base.empty() ? nullptr : find(e.base, e.dataset, e.kvCache);
        // Full precision: float32 weights and a float32 KV cache when evaluated so.
        const qb::EvalRow *full = nullptr;
        for (const auto &f : evals)
            if (f.stage == "full" && f.dataset == e.dataset
                && (!full || (full->kvCache != "fp32" && f.kvCache == "fp32")))
                full = &f;
        // Only a drop outside both intervals has a share worth showing: one inside them is noise,
        // and dividing by it turns noise into large percentages.
        if (base && full && full->accuracy > base->ciHigh && base->accuracy < full->ciLow)
            b.recovered = (e.accuracy - base->accuracy) / (full->accuracy - base->accuracy);
        m_bars.push_back(b);
    }
    requestReplot();
}

bool RecoveryChart::hasData() const
{
    for (const Bar &b : m_bars)
        if (!std::isnan(b.recovered))
            return true;
    return false;
}

void RecoveryChart::clear()
{
    m_bars.clear();
    requestReplot();
}

void RecoveryChart::rebuild()
{
    QCustomPlot *p = plot();
    p->clearPlottables();
    p->clearItems();
    QStringList tasks, series;
    for (const Bar &b : m_bars) {
        if (!tasks.contains(b.task))
            tasks << b.task;
        if (!series.contains(b.series))
            series << b.series;
    }
    const int n = int(series.size());
    QStringList quantized;
    for (const Bar &b : m_bars)
        if (b.stage == QLatin1String("quantized") && !quantized.contains(b.series))
            quantized << b.series;
    const double width = n > 0 ? 0.8 / n : 0.8;
    for (int s = 0; s < n; ++s) {
        auto *bars = new QCPBars(p->xAxis, p->yAxis);
        bars->setName(series[s]);
        bars->setWidth(width * 0.92);
        auto *errors = new QCPErrorBars(p->xAxis, p->yAxis);
        errors->removeFromLegend();
        errors->setPen(QPen(Qt::black, 1.2));
        QVector<double> x, y, minus, plus;
        for (const Bar &b : m_bars) {
            if (b.series != series[s])
                continue;
            const QColor c = stageColor(b.stage, int(quantized.indexOf(b.series)));
            bars->setPen(QPen(c.darker(130)));
            bars->setBrush(c);
            const double pos = tasks.indexOf(b.task) + (s - (n - 1) / 2.0) * width;
            x << pos;
            y << 100 * b.accuracy;
            minus << 100 * std::max(0.0, b.accuracy - b.ciLow);
            plus << 100 * std::max(0.0, b.ciHigh - b.accuracy);
            if (!std::isnan(b.recovered)) {
                auto *text = new QCPItemText(p);
                text->position->setCoords(pos, 100 * b.ciHigh + 3);
                text->setText(tr("%1%").arg(100 * b.recovered, 0, 'f', 0));
                text->setFont(QFont(font().family(), 8, QFont::Bold));
                text->setPositionAlignment(Qt::AlignHCenter | Qt::AlignBottom);
            }
        }
        bars->setData(x, y);
        errors->setDataPlottable(bars);
        errors->setData(minus, plus);
    }
    QSharedPointer<QCPAxisTickerText> ticker(new QCPAxisTickerText);
    for (int t = 0; t < tasks.size(); ++t)
        ticker->addTick(t, tasks[t]);
    p->xAxis->setTicker(ticker);
    p->xAxis->setRange(-0.6, std::max(0, int(tasks.size()) - 1) + 0.6);
    p->yAxis->setRange(0, 112);
    p->xAxis->setLabel(tr("labels above bars: share of the quantization drop recovered"));
}

} // namespace qbui
