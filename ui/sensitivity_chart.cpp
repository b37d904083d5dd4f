#include "sensitivity_chart.h"

#include "qcp.h"

#include <QCheckBox>
#include <QHBoxLayout>

#include <cmath>
#include <limits>

namespace qbui {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// data[key] when it is a number, NaN when it is null, else the fallback.
double field(const nlohmann::json &data, const char *key, double fallback)
{
    if (!data.is_object() || !data.contains(key))
        return fallback;
    const auto &v = data[key];
    return v.is_number() ? v.get<double>() : v.is_null() ? kNaN : fallback;
}

QColor lineColor(int i)
{
    static const QColor colors[] = {QColor(0x1f, 0x77, 0xb4), QColor(0xff, 0x7f, 0x0e),
                                    QColor(0x2c, 0xa0, 0x2c), QColor(0xd6, 0x27, 0x28),
                                    QColor(0x94, 0x67, 0xbd), QColor(0x8c, 0x56, 0x4b)};
    return colors[i % 6];
}

} // namespace

SensitivityChart::SensitivityChart(QWidget *parent)
    : ChartWidget(tr("Sensitivity: KL vs bits/param"), QStringLiteral("sensitivity"), parent),
      m_log(new QCheckBox(tr("Log KL")))
{
    m_log->setChecked(true);
    m_log->setToolTip(tr("Logarithmic KL axis (non-positive KL is left out)"));
    toolRow()->insertWidget(0, m_log);
    connect(m_log, &QCheckBox::toggled, this, [this] { requestReplot(); });
    QCustomPlot *p = plot();
    p->legend->setVisible(true);
    p->legend->setFont(QFont(font().family(), 8));
    p->xAxis->setLabel(tr("bits per parameter (quantized layers)"));
    p->yAxis->setLabel(tr("KL(reference || quantized), nats per token"));
    p->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
}

void SensitivityChart::addCurvePoint(const QString &node, const nlohmann::json &data, double step,
                                     double value)
{
    auto &curve = m_curves[node];
    Point pt;
    pt.bits = field(data, "bits_per_param", step);
    pt.kl = field(data, "kl", value);
    if (data.is_object() && data.contains("layer") && data["layer"].is_string())
        pt.layer = QString::fromStdString(data["layer"].get<std::string>());
    const double upgraded = field(data, "upgraded", double(curve.size()));
    curve[std::isfinite(upgraded) ? int(upgraded) : int(curve.size())] = pt;
    requestReplot();
}

void SensitivityChart::setAllocation(const QString &node, const nlohmann::json &data, double step,
                                     double value)
{
    Allocation a;
    a.bits = field(data, "bits_per_param", step);
    a.kl = field(data, "kl", value);
    a.budget = field(data, "budget_bits", kNaN);
    a.upgraded = int(field(data, "upgraded", 0));
    a.feasible = !(data.is_object() && data.contains("feasible") && data["feasible"].is_boolean())
        || data["feasible"].get<bool>();
    m_allocations[node] = a;
    requestReplot();
}

QStringList SensitivityChart::nodes() const
{
    QStringList out;
    for (const auto &[node, c] : m_curves)
        out << node;
    return out;
}

std::vector<SensitivityChart::Point> SensitivityChart::curve(const QString &node) const
{
    std::vector<Point> out;
    auto it = m_curves.find(node);
    if (it != m_curves.end())
        for (const auto &[k, pt] : it->second)
            out.push_back(pt);
    return out;
}

const SensitivityChart::Allocation *SensitivityChart::allocation(const QString &node) const
{
    auto it = m_allocations.find(node);
    return it == m_allocations.end() ? nullptr : &it->second;
}

void SensitivityChart::setLogScale(bool log)
{
    m_log->setChecked(log);
}

QCPGraph *SensitivityChart::curveGraph(const QString &node) const
{
    auto it = m_curveGraphs.find(node);
    return it == m_curveGraphs.end() ? nullptr : it->second;
}

QCPGraph *SensitivityChart::allocationGraph(const QString &node) const
{
    auto it = m_allocationGraphs.find(node);
    return it == m_allocationGraphs.end() ? nullptr : it->second;
}

QVector<double> SensitivityChart::budgetLines() const
{
    QVector<double> out;
    for (int i = 0; i < plot()->itemCount(); ++i)
        if (auto *line = qobject_cast<QCPItemStraightLine *>(plot()->item(i)))
            out << line->point1->key();
    return out;
}

void SensitivityChart::clear()
{
    m_curves.clear();
    m_allocations.clear();
    requestReplot();
}

void SensitivityChart::rebuild()
{
    QCustomPlot *p = plot();
    p->clearGraphs();
    p->clearItems();
    m_curveGraphs.clear();
    m_allocationGraphs.clear();
    const bool log = m_log->isChecked();
    p->yAxis->setScaleType(log ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
    if (log)
        p->yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
    else
        p->yAxis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
    // On a log axis a non-positive KL has no place: a gap, like a null.
    auto shown = [log](double kl) { return log && !(kl > 0) ? kNaN : kl; };
    double xLo = std::numeric_limits<double>::infinity(), xHi = -xLo;
    double yLo = xLo, yHi = -xLo;
    auto cover = [&](double x, double y) {
        xLo = std::min(xLo, x);
        xHi = std::max(xHi, x);
        if (std::isfinite(y)) {
            yLo = std::min(yLo, y);
            yHi = std::max(yHi, y);
        }
    };
    int i = 0;
    for (const auto &[node, points] : m_curves) {
        const QColor color = lineColor(i++);
        QCPGraph *g = p->addGraph();
        g->setName(node);
        g->setPen(QPen(color, 2));
        g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 5));
        QVector<double> x, y;
        for (const auto &[k, pt] : points) {
            x << pt.bits;
            y << shown(pt.kl);
            cover(pt.bits, y.back());
        }
        g->setData(x, y); // sorted by bits: upgrades only ever add bits
        m_curveGraphs[node] = g;
        const Allocation *a = allocation(node);
        if (!a)
            continue;
        QCPGraph *star = p->addGraph();
        star->setName(tr("%1: allocation, %2 upgraded%3")
                          .arg(node)
                          .arg(a->upgraded)
                          .arg(a->feasible ? QString() : tr(" (budget infeasible)")));
        star->setLineStyle(QCPGraph::lsNone);
        star->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssStar, QPen(color.darker(150), 2),
                                              QBrush(color), 14));
        star->setData({a->bits}, {shown(a->kl)});
        cover(a->bits, shown(a->kl));
        m_allocationGraphs[node] = star;
        if (std::isfinite(a->budget)) {
            auto *line = new QCPItemStraightLine(p);
            line->setPen(QPen(color, 1, Qt::DashLine));
            // Positive y for both ends: valid on the log axis too.
            line->point1->setCoords(a->budget, 1);
            line->point2->setCoords(a->budget, 2);
            cover(a->budget, kNaN);
        }
    }
    if (std::isfinite(xLo)) {
        const double pad = std::max((xHi - xLo) * 0.05, 0.1);
        p->xAxis->setRange(xLo - pad, xHi + pad);
    }
    if (std::isfinite(yLo)) {
        if (log)
            p->yAxis->setRange(yLo / 2, yHi * 2);
        else
            p->yAxis->setRange(std::min(0.0, yLo), yHi > 0 ? yHi * 1.1 : 1);
    }
}

} // namespace qbui
