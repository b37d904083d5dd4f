#include "decoding_charts.h"

#include "accuracy_chart.h"
#include "qcp.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>

#include <algorithm>
#include <map>

namespace qbui {

namespace {

QString num(double v) { return QString::number(v, 'g', 4); }

// "gsm · cot": the part of every page id that the greedy rows share with the sampled ones.
QString baseKey(const qb::EvalRow &r)
{
    return QString::fromStdString((r.dataset.empty() ? r.task : r.dataset) + " · "
                                  + r.decoding->promptStyle);
}

// " · top_p 0.9 · top_k 40" for cut-offs other than none.
QString cutoffs(const qb::DecodingSetting &d)
{
    QString out;
    if (d.topP != 1)
        out += QStringLiteral(" · top_p ") + num(d.topP);
    if (d.topK != 0)
        out += QStringLiteral(" · top_k ") + QString::number(d.topK);
    return out;
}

bool isGreedy(const qb::EvalRow &r) { return r.decoding->temperature == 0; }

void addErrorBars(QCustomPlot *p, QCPAbstractPlottable1D<QCPGraphData> *graph,
                  QCPAbstractPlottable1D<QCPBarsData> *bars, const QVector<double> &minus,
                  const QVector<double> &plus, const QColor &color)
{
    auto *errors = new QCPErrorBars(p->xAxis, p->yAxis);
    errors->removeFromLegend();
    errors->setPen(QPen(color, 1));
    if (graph)
        errors->setDataPlottable(graph);
    else
        errors->setDataPlottable(bars);
    errors->setData(minus, plus);
}

void legendRight(QCustomPlot *p, const QFont &font)
{
    p->legend->setVisible(true);
    p->legend->setFont(font);
    p->axisRect()->insetLayout()->take(p->legend);
    p->plotLayout()->addElement(0, 1, p->legend);
    p->plotLayout()->setColumnStretchFactor(1, 0.001);
}

} // namespace

SweepChart::SweepChart(const QString &title, const QString &fileStem, QWidget *parent)
    : ChartWidget(title, fileStem, parent), m_page(new QComboBox)
{
    m_page->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    m_page->setToolTip(tr("Which dataset, prompt style and setting to show"));
    toolRow()->insertWidget(0, new QLabel(tr("View:")));
    toolRow()->insertWidget(1, m_page);
    connect(m_page, &QComboBox::currentIndexChanged, this, [this] { requestReplot(); });
    plot()->yAxis->setLabel(tr("accuracy (%)"));
}

void SweepChart::setRows(const nlohmann::json &rows)
{
    m_rows.clear();
    if (rows.is_array())
        for (const auto &r : rows)
            if (qb::EvalRow::matches(r)) {
                qb::EvalRow e = qb::EvalRow::fromJson(r);
                if (e.decoding)
                    m_rows.push_back(std::move(e));
            }
    QStringList ids;
    for (const auto &r : m_rows) {
        const QString page = pageOf(r);
        if (!page.isEmpty() && !ids.contains(page))
            ids << page;
    }
    const QString shown = currentPage();
    m_page->blockSignals(true);
    m_page->clear();
    for (const QString &id : ids)
        m_page->addItem(id, id);
    const int keep = m_page->findData(shown);
    m_page->setCurrentIndex(keep >= 0 ? keep : (ids.isEmpty() ? -1 : 0));
    m_page->blockSignals(false);
    requestReplot();
}

void SweepChart::clear()
{
    setRows(nlohmann::json::array());
}

QStringList SweepChart::pages() const
{
    QStringList out;
    for (int i = 0; i < m_page->count(); ++i)
        out << m_page->itemData(i).toString();
    return out;
}

QString SweepChart::currentPage() const { return m_page->currentData().toString(); }

void SweepChart::setCurrentPage(const QString &page)
{
    const int i = m_page->findData(page);
    if (i >= 0)
        m_page->setCurrentIndex(i);
}

QString SweepChart::seriesOf(const qb::EvalRow &row)
{
    const QString label = QString::fromStdString(row.label.empty() ? row.precision : row.label);
    const QString model = QString::fromStdString(row.model);
    if (label.isEmpty())
        return model;
    return model.isEmpty() || model == label ? label : model + QStringLiteral(" · ") + label;
}

QColor SweepChart::seriesColor(const QString &series) const
{
    static const std::map<QString, QColor> hue = {
        {"full", QColor(0x4c, 0x72, 0xb0)},  {"8bit", QColor(0x81, 0x72, 0xb3)},
        {"4bit", QColor(0xdd, 0x84, 0x52)},  {"low", QColor(0xc4, 0x4e, 0x52)},
        {"recovered", QColor(0x55, 0xa8, 0x68)}};
    QStringList seen;
    std::map<QString, int> perFamily;
    for (const auto &r : m_rows) {
        const QString name = seriesOf(r);
        if (seen.contains(name))
            continue;
        seen << name;
        const QString family = AccuracyChart::familyOf(QString::fromStdString(r.precision),
                                                       QString::fromStdString(r.label),
                                                       QString::fromStdString(r.stage));
        const int index = perFamily[family]++;
        if (name != series)
            continue;
        const auto it = hue.find(family);
        const QColor base = it != hue.end() ? it->second : QColor(0x8c, 0x8c, 0x8c);
        return index == 0 ? base : base.darker(100 + 30 * index);
    }
    return QColor(0x8c, 0x8c, 0x8c);
}

std::vector<qb::EvalRow> SweepChart::rowsOn(const QString &page) const
{
    std::vector<qb::EvalRow> out;
    for (const auto &r : m_rows)
        if (pageOf(r) == page)
            out.push_back(r);
    return out;
}

QStringList SweepChart::seriesOn(const QString &page) const
{
    QStringList out;
    for (const auto &r : m_rows)
        if (pageOf(r) == page && !out.contains(seriesOf(r)))
            out << seriesOf(r);
    return out;
}

// ---------------------------------------------------------------------------------------------

TemperatureChart::TemperatureChart(QWidget *parent)
    : SweepChart(tr("Accuracy vs temperature"), QStringLiteral("temperature"), parent)
{
    plot()->xAxis->setLabel(tr("sampling temperature (0 = greedy); one sample per question"));
    legendRight(plot(), QFont(font().family(), 8));
}

QString TemperatureChart::pageOf(const qb::EvalRow &row) const
{
    if (row.selfConsistency != 1)
        return {};
    // Greedy has no cut-offs; it is the 0 of the no-cut-off page and is drawn on every page.
    return baseKey(row) + cutoffs(*row.decoding);
}

std::vector<TemperatureChart::Line> TemperatureChart::lines(const QString &page) const
{
    std::vector<Line> out;
    std::vector<qb::EvalRow> rs = rowsOn(page);
    QString base;
    if (!rs.empty())
        base = baseKey(rs.front());
    for (const auto &r : rows())
        if (r.selfConsistency == 1 && isGreedy(r) && baseKey(r) == base && pageOf(r) != page)
            rs.push_back(r);
    std::sort(rs.begin(), rs.end(), [](const qb::EvalRow &a, const qb::EvalRow &b) {
        return a.decoding->temperature < b.decoding->temperature;
    });
    QStringList order;
    for (const auto &r : rows())
        if (!order.contains(seriesOf(r)))
            order << seriesOf(r);
    for (const QString &series : order) {
        Line l;
        l.series = series;
        for (const auto &r : rs) {
            if (seriesOf(r) != series)
                continue;
            l.temperature << r.decoding->temperature;
            l.accuracy << r.accuracy;
            l.ciLow << r.ciLow;
            l.ciHigh << r.ciHigh;
            if (!isGreedy(r) && r.decoding->greedyAccuracy)
                l.maxDrop = std::max(l.maxDrop, *r.decoding->dropFromGreedy(r.accuracy));
        }
        if (!l.temperature.isEmpty())
            out.push_back(l);
    }
    return out;
}

void TemperatureChart::rebuild()
{
    QCustomPlot *p = plot();
    p->clearPlottables();
    const QString page = currentPage();
    const auto ls = lines(page);
    double hi = 0;
    for (const Line &l : ls) {
        const QColor c = seriesColor(l.series);
        QCPGraph *g = p->addGraph();
        g->setName(tr("%1 (largest drop from greedy %2 pts)")
                       .arg(l.series)
                       .arg(100 * l.maxDrop, 0, 'f', 1));
        g->setPen(QPen(c, 2));
        g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, c, c, 6));
        QVector<double> y, minus, plus;
        for (int k = 0; k < l.temperature.size(); ++k) {
            y << 100 * l.accuracy[k];
            minus << 100 * std::max(0.0, l.accuracy[k] - l.ciLow[k]);
            plus << 100 * std::max(0.0, l.ciHigh[k] - l.accuracy[k]);
            hi = std::max(hi, l.temperature[k]);
        }
        g->setData(l.temperature, y, true);
        addErrorBars(p, g, nullptr, minus, plus, c);
    }
    p->xAxis->setRange(-0.1, hi + 0.1);
    p->yAxis->setRange(0, 105);
}

// ---------------------------------------------------------------------------------------------

MajorityChart::MajorityChart(QWidget *parent)
    : SweepChart(tr("Greedy vs majority vote"), QStringLiteral("majority"), parent)
{
    plot()->xAxis->setLabel(tr("precision; bars: greedy, then maj@k (k samples voted)"));
    legendRight(plot(), QFont(font().family(), 8));
}

QString MajorityChart::pageOf(const qb::EvalRow &row) const
{
    if (isGreedy(row))
        return {};
    return baseKey(row) + QStringLiteral(" · T ") + num(row.decoding->temperature)
        + cutoffs(*row.decoding);
}

std::vector<MajorityChart::Group> MajorityChart::groups(const QString &page) const
{
    std::vector<Group> out;
    const auto rs = rowsOn(page);
    if (rs.empty())
        return out;
    const QString base = baseKey(rs.front());
    for (const QString &precision : seriesOn(page)) {
        Group g;
        g.precision = precision;
        for (const auto &r : rows())
            if (isGreedy(r) && baseKey(r) == base && seriesOf(r) == precision) {
                g.bars.push_back({tr("greedy"), r.accuracy, r.ciLow, r.ciHigh});
                break;
            }
        std::vector<qb::EvalRow> mine;
        for (const auto &r : rs)
            if (seriesOf(r) == precision)
                mine.push_back(r);
        std::sort(mine.begin(), mine.end(), [](const qb::EvalRow &a, const qb::EvalRow &b) {
            return a.selfConsistency < b.selfConsistency;
        });
        for (const auto &r : mine)
            g.bars.push_back({QStringLiteral("maj@%1").arg(r.selfConsistency), r.accuracy,
                              r.ciLow, r.ciHigh});
        out.push_back(g);
    }
    return out;
}

void MajorityChart::rebuild()
{
    QCustomPlot *p = plot();
    p->clearPlottables();
    const auto gs = groups(currentPage());
    QStringList series;
    for (const Group &g : gs)
        for (const Bar &b : g.bars)
            if (!series.contains(b.series))
                series << b.series;
    static const QColor shades[] = {QColor(0x4c, 0x72, 0xb0), QColor(0xdd, 0x84, 0x52),
                                    QColor(0x55, 0xa8, 0x68), QColor(0xc4, 0x4e, 0x52),
                                    QColor(0x81, 0x72, 0xb3), QColor(0x93, 0x78, 0x60)};
    const int n = int(series.size());
    const double width = n > 0 ? 0.8 / n : 0.8;
    for (int s = 0; s < n; ++s) {
        const QColor c = shades[s % 6];
        auto *bars = new QCPBars(p->xAxis, p->yAxis);
        bars->setName(series[s]);
        bars->setWidth(width * 0.92);
        bars->setPen(QPen(c.darker(130)));
        bars->setBrush(c);
        QVector<double> x, y, minus, plus;
        for (int gi = 0; gi < int(gs.size()); ++gi)
            for (const Bar &b : gs[size_t(gi)].bars) {
                if (b.series != series[s])
                    continue;
                x << gi + (s - (n - 1) / 2.0) * width;
                y << 100 * b.accuracy;
                minus << 100 * std::max(0.0, b.accuracy - b.ciLow);
                plus << 100 * std::max(0.0, b.ciHigh - b.accuracy);
            }
        bars->setData(x, y);
        addErrorBars(p, nullptr, bars, minus, plus, Qt::black);
    }
    QSharedPointer<QCPAxisTickerText> ticker(new QCPAxisTickerText);
    for (int gi = 0; gi < int(gs.size()); ++gi)
        ticker->addTick(gi, gs[size_t(gi)].precision);
    p->xAxis->setTicker(ticker);
    p->xAxis->setRange(-0.6, std::max(0, int(gs.size()) - 1) + 0.6);
    p->yAxis->setRange(0, 105);
}

// ---------------------------------------------------------------------------------------------

ExtractionChart::ExtractionChart(QWidget *parent)
    : SweepChart(tr("Answer-extraction audit"), QStringLiteral("extraction"), parent)
{
    plot()->xAxis->setLabel(tr("setting; solid: strict accuracy, hollow: flexible accuracy, "
                               "diamond: unparsed (strict)"));
    plot()->yAxis->setLabel(tr("% of questions"));
    legendRight(plot(), QFont(font().family(), 8));
}

QString ExtractionChart::settingOf(const qb::EvalRow &row)
{
    const qb::DecodingSetting &d = *row.decoding;
    if (d.temperature == 0)
        return QStringLiteral("greedy");
    QString s = QStringLiteral("T=") + num(d.temperature) + cutoffs(d);
    if (row.selfConsistency > 1)
        s += QStringLiteral(" maj@%1").arg(row.selfConsistency);
    return s;
}

QString ExtractionChart::pageOf(const qb::EvalRow &row) const { return baseKey(row); }

std::vector<ExtractionChart::Cell> ExtractionChart::audit(const QString &page) const
{
    std::vector<Cell> out;
    for (const auto &r : rowsOn(page))
        out.push_back({seriesOf(r), settingOf(r), r.accuracy, r.flexibleAccuracy, r.unparsedRate});
    return out;
}

void ExtractionChart::rebuild()
{
    QCustomPlot *p = plot();
    p->clearPlottables();
    const QString page = currentPage();
    const auto cells = audit(page);
    QStringList settings;
    for (const Cell &c : cells)
        if (!settings.contains(c.setting))
            settings << c.setting;
    const QStringList precisions = seriesOn(page);
    const int n = int(precisions.size());
    const double width = n > 0 ? 0.8 / n : 0.8;
    for (int s = 0; s < n; ++s) {
        const QColor c = seriesColor(precisions[s]);
        auto *flexible = new QCPBars(p->xAxis, p->yAxis);
        flexible->setName(precisions[s] + tr(" flexible"));
        flexible->removeFromLegend();
        flexible->setWidth(width * 0.92);
        flexible->setPen(QPen(c, 1.5));
        flexible->setBrush(Qt::NoBrush);
        auto *strict = new QCPBars(p->xAxis, p->yAxis);
        strict->setName(precisions[s]);
        strict->setWidth(width * 0.6);
        strict->setPen(QPen(c.darker(130)));
        strict->setBrush(c);
        QCPGraph *unparsed = p->addGraph();
        unparsed->setName(precisions[s] + tr(" unparsed"));
        unparsed->removeFromLegend();
        unparsed->setLineStyle(QCPGraph::lsNone);
        unparsed->setScatterStyle(
            QCPScatterStyle(QCPScatterStyle::ssDiamond, c.darker(150), Qt::white, 8));
        QVector<double> x, ys, yf, yu;
        for (const Cell &cell : cells) {
            if (cell.precision != precisions[s])
                continue;
            x << settings.indexOf(cell.setting) + (s - (n - 1) / 2.0) * width;
            ys << 100 * cell.strict;
            yf << 100 * cell.flexible;
            yu << 100 * cell.unparsed;
        }
        flexible->setData(x, yf);
        strict->setData(x, ys);
        unparsed->setData(x, yu);
    }
    QSharedPointer<QCPAxisTickerText> ticker(new QCPAxisTickerText);
    for (int i = 0; i < settings.size(); ++i)
        ticker->addTick(i, settings[i]);
    p->xAxis->setTicker(ticker);
    p->xAxis->setTickLabelRotation(settings.size() > 6 ? 30 : 0);
    p->xAxis->setRange(-0.6, std::max(0, int(settings.size()) - 1) + 0.6);
    p->yAxis->setRange(0, 105);
}

} // namespace qbui
