#include "accuracy_chart.h"

#include "qcp.h"

#include "api/results.h"

#include <QRegularExpression>

#include <map>

namespace qbui {


namespace {

// Shades per family, so that precisions stay distinct past ten models and related ones look alike.
QColor familyColor(const QString &family, int index)
{
    static const std::map<QString, std::vector<QColor>> shades = {
        {"full", {QColor(0x4c, 0x72, 0xb0), QColor(0x2b, 0x4c, 0x7e), QColor(0x7f, 0xa6, 0xdb)}},
        {"8bit",
         {QColor(0x93, 0x78, 0x60), QColor(0x81, 0x72, 0xb3), QColor(0x5e, 0x4c, 0x8a),
          QColor(0xb1, 0x9c, 0xd9)}},
        {"4bit",
         {QColor(0xdd, 0x84, 0x52), QColor(0xcc, 0xb9, 0x74), QColor(0xe5, 0xa0, 0x00),
          QColor(0xb0, 0x7a, 0xa1), QColor(0xff, 0x9d, 0xa7), QColor(0xff, 0xbe, 0x7d),
          QColor(0xf2, 0x8e, 0x2b)}},
        {"low", {QColor(0xc4, 0x4e, 0x52), QColor(0x8c, 0x1c, 0x13), QColor(0xe3, 0x77, 0xc2)}},
        {"recovered",
         {QColor(0x55, 0xa8, 0x68), QColor(0x2a, 0x9d, 0x8f), QColor(0x1b, 0x78, 0x37),
          QColor(0x8c, 0xc0, 0x84)}},
        {"other", {QColor(0x8c, 0x8c, 0x8c), QColor(0x59, 0x59, 0x59)}}};
    auto it = shades.find(family);
    const auto &list = it != shades.end() ? it->second : shades.at("other");
    return list[size_t(index) % list.size()];
}

} // namespace

QString AccuracyChart::familyOf(const QString &precision, const QString &label,
                                const QString &stage)
{
    if (stage == "qlora" || stage == "qalora" || stage == "qat")
        return QStringLiteral("recovered");
    const QString p = (precision.isEmpty() ? label : precision).toLower();
    if (p.isEmpty() || p == "fp32" || p == "fp16" || p == "bf16")
        return QStringLiteral("full");
    static const QRegularExpression bits(QStringLiteral("(?:^|[^a-z])int([0-9])|^gptq-int([0-9])|^awq-int([0-9])"));
    const auto m = bits.match(p);
    int b = 0;
    for (int i = 1; i <= 3 && m.hasMatch(); ++i)
        if (!m.captured(i).isEmpty())
            b = m.captured(i).toInt();
    if (p.startsWith("llm_int8") || p.startsWith("fp8") || p.startsWith("smoothquant") || b == 8)
        return QStringLiteral("8bit");
    if (p.startsWith("nf4") || p.startsWith("fp4") || b == 4)
        return QStringLiteral("4bit");
    if (b == 2 || b == 3)
        return QStringLiteral("low");
    return QStringLiteral("other");
}

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
        row.family = familyOf(QString::fromStdString(r.precision), label,
                              QString::fromStdString(r.stage));
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
    std::map<QString, int> perFamily; // how many series of each family are coloured so far
    for (int s = 0; s < n; ++s) {
        auto *bars = new QCPBars(p->xAxis, p->yAxis);
        bars->setName(names[s]);
        bars->setWidth(width * 0.92);
        QString family = QStringLiteral("other");
        for (const Row &r : m_rows)
            if (r.series == names[s]) {
                family = r.family;
                break;
            }
        const QColor c = familyColor(family, perFamily[family]++);
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
