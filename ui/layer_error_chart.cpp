#include "layer_error_chart.h"

#include "qcp.h"

#include <QCheckBox>
#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>

#include <cmath>
#include <limits>

namespace qbui {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The fields the core's layer_error payload carries, in the order the selector offers them.
const std::pair<const char *, const char *> kKnownMetrics[] = {
    {"rel_mse", QT_TRANSLATE_NOOP("qbui::LayerErrorChart", "output relative MSE")},
    {"sqnr_db", QT_TRANSLATE_NOOP("qbui::LayerErrorChart", "output SQNR (dB)")},
    {"cosine", QT_TRANSLATE_NOOP("qbui::LayerErrorChart", "output cosine similarity")},
    {"max_abs", QT_TRANSLATE_NOOP("qbui::LayerErrorChart", "max |output error|")},
    {"kl", QT_TRANSLATE_NOOP("qbui::LayerErrorChart", "KL, this layer alone (nats)")},
    {"weight_rel_mse", QT_TRANSLATE_NOOP("qbui::LayerErrorChart", "weight relative MSE")},
    {"act_absmax", QT_TRANSLATE_NOOP("qbui::LayerErrorChart", "input activation absmax")},
    {"act_outlier_fraction", QT_TRANSLATE_NOOP("qbui::LayerErrorChart", "input outlier fraction")},
    {"act_outlier_channels", QT_TRANSLATE_NOOP("qbui::LayerErrorChart", "input outlier channels")},
    {"weight_kurtosis", QT_TRANSLATE_NOOP("qbui::LayerErrorChart", "weight kurtosis")},
};

// Numbers that are the same for every layer or identify it: not worth a chart.
bool isMetricField(const std::string &key)
{
    return key != "layer" && key != "tokens";
}

const QColor kModuleColors[] = {QColor(0x4c, 0x72, 0xb0), QColor(0xdd, 0x84, 0x52),
                                QColor(0x55, 0xa8, 0x68), QColor(0xc4, 0x4e, 0x52),
                                QColor(0x81, 0x72, 0xb3), QColor(0x93, 0x78, 0x60),
                                QColor(0xda, 0x8b, 0xc3), QColor(0x8c, 0x8c, 0x8c)};

} // namespace

LayerErrorChart::LayerErrorChart(QWidget *parent)
    : ChartWidget(tr("Per-layer error"), QStringLiteral("layer_error"), parent),
      m_node(new QComboBox), m_metric(new QComboBox), m_log(new QCheckBox(tr("Log")))
{
    for (const auto &[key, label] : kKnownMetrics)
        m_metric->addItem(tr(label), QString::fromLatin1(key));
    m_node->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    m_node->setToolTip(tr("Which analysis node (quantized model) to show"));
    m_log->setToolTip(tr("Logarithmic value axis and colour scale (non-positive values are gaps)"));
    toolRow()->insertWidget(0, new QLabel(tr("Node:")));
    toolRow()->insertWidget(1, m_node);
    toolRow()->insertWidget(2, new QLabel(tr("Metric:")));
    toolRow()->insertWidget(3, m_metric);
    toolRow()->insertWidget(4, m_log);
    connect(m_node, &QComboBox::currentIndexChanged, this, [this] { requestReplot(); });
    connect(m_metric, &QComboBox::currentIndexChanged, this, [this] { requestReplot(); });
    connect(m_log, &QCheckBox::toggled, this, [this] { requestReplot(); });

    QCustomPlot *p = plot();
    p->legend->setVisible(true);
    p->legend->setFont(QFont(font().family(), 8));
    p->xAxis->setLabel(tr("layer"));
    m_heatRect = new QCPAxisRect(p);
    p->plotLayout()->addElement(1, 0, m_heatRect);
    m_heatRect->axis(QCPAxis::atBottom)->setLabel(tr("layer"));
    m_heat = new QCPColorMap(m_heatRect->axis(QCPAxis::atBottom),
                             m_heatRect->axis(QCPAxis::atLeft));
    m_scale = new QCPColorScale(p);
    p->plotLayout()->addElement(1, 1, m_scale);
    m_scale->setType(QCPAxis::atRight);
    m_heat->setColorScale(m_scale);
    // Gaps are transparent (white): the gradient must not end in white (gpThermal does).
    m_heat->setGradient(QCPColorGradient::gpJet);
    m_heat->setInterpolate(false);
    m_heat->removeFromLegend();
    // Keep heatmap and colour scale aligned with the plot above.
    auto *group = new QCPMarginGroup(p);
    p->axisRect(0)->setMarginGroup(QCP::msLeft | QCP::msRight, group);
    m_heatRect->setMarginGroup(QCP::msLeft | QCP::msRight, group);
    m_scale->setMarginGroup(QCP::msTop | QCP::msBottom, group);
    // The title says which node an exported figure shows.
    p->plotLayout()->insertRow(0);
    m_title = new QCPTextElement(p, QString(), QFont(font().family(), 9));
    p->plotLayout()->addElement(0, 0, m_title);
}

bool LayerErrorChart::addLayerError(const nlohmann::json &data, const QString &node)
{
    if (!data.is_object() || !data.contains("layer") || !data["layer"].is_number()
        || !data.contains("module") || !data["module"].is_string())
        return false;
    const int layer = data["layer"].get<int>();
    const QString module = QString::fromStdString(data["module"].get<std::string>());
    const bool newNode = m_nodes.count(node) == 0;
    NodeData &d = m_nodes[node];
    auto &cell = d.cells[{layer, module}];
    for (const auto &[key, v] : data.items()) {
        if (!isMetricField(key) || !(v.is_number() || v.is_null()))
            continue;
        const QString name = QString::fromStdString(key);
        cell[name] = v.is_number() ? v.get<double>() : kNaN; // null: a gap, not a zero
        offerMetric(name);
    }
    if (!d.modules.contains(module))
        d.modules << module;
    if (newNode)
        m_node->addItem(pageTitle(node), node);
    requestReplot();
    return true;
}

void LayerErrorChart::offerMetric(const QString &key)
{
    if (m_metric->findData(key) < 0)
        m_metric->addItem(key, key);
}

void LayerErrorChart::setNodeLabel(const QString &node, const QString &label)
{
    auto it = m_nodes.find(node);
    if (it == m_nodes.end() || it->second.label == label)
        return;
    it->second.label = label;
    const int i = m_node->findData(node);
    if (i >= 0)
        m_node->setItemText(i, pageTitle(node));
    requestReplot();
}

QStringList LayerErrorChart::nodes() const
{
    QStringList out;
    for (int i = 0; i < m_node->count(); ++i)
        out << m_node->itemData(i).toString();
    return out;
}

void LayerErrorChart::setNode(const QString &node)
{
    const int i = m_node->findData(node);
    if (i >= 0)
        m_node->setCurrentIndex(i);
}

QString LayerErrorChart::node() const
{
    return m_node->currentData().toString();
}

QString LayerErrorChart::pageTitle(const QString &page) const
{
    auto it = m_nodes.find(page);
    const QString name = page.isEmpty() ? tr("(unnamed)") : page;
    return it == m_nodes.end() || it->second.label.isEmpty()
        ? name : QStringLiteral("%1 (%2)").arg(name, it->second.label);
}

void LayerErrorChart::setMetric(const QString &metric)
{
    const int i = m_metric->findData(metric);
    if (i >= 0)
        m_metric->setCurrentIndex(i);
}

QString LayerErrorChart::metric() const
{
    return m_metric->currentData().toString();
}

QStringList LayerErrorChart::metrics() const
{
    QStringList out;
    for (int i = 0; i < m_metric->count(); ++i)
        out << m_metric->itemData(i).toString();
    return out;
}

void LayerErrorChart::setLogScale(bool log)
{
    m_log->setChecked(log);
}

const LayerErrorChart::NodeData *LayerErrorChart::shownData() const
{
    auto it = m_nodes.find(node());
    return it == m_nodes.end() ? nullptr : &it->second;
}

double LayerErrorChart::value(int layer, const QString &module, const QString &metric) const
{
    return value(node(), layer, module, metric);
}

double LayerErrorChart::value(const QString &node, int layer, const QString &module,
                              const QString &metric) const
{
    auto n = m_nodes.find(node);
    if (n == m_nodes.end())
        return kNaN;
    auto it = n->second.cells.find({layer, module});
    if (it == n->second.cells.end())
        return kNaN;
    auto v = it->second.find(metric);
    return v == it->second.end() ? kNaN : v->second;
}

double LayerErrorChart::heatmapCell(int layer, int moduleIndex)
{
    flush();
    return m_heat->data()->cell(layer, moduleIndex);
}

bool LayerErrorChart::heatmapGap(int layer, int moduleIndex)
{
    flush();
    return m_heat->data()->alpha(layer, moduleIndex) == 0;
}

QStringList LayerErrorChart::modules() const
{
    const NodeData *d = shownData();
    return d ? d->modules : QStringList();
}

int LayerErrorChart::layerCount() const
{
    const NodeData *d = shownData();
    int top = -1;
    if (d)
        for (const auto &[key, v] : d->cells)
            top = std::max(top, key.first);
    return top + 1;
}

void LayerErrorChart::clear()
{
    m_nodes.clear();
    m_node->blockSignals(true);
    m_node->clear();
    m_node->blockSignals(false);
    requestReplot();
}

void LayerErrorChart::rebuild()
{
    QCustomPlot *p = plot();
    // Only the bars live in the top rect; the colour map is kept and refilled.
    for (int i = p->plottableCount() - 1; i >= 0; --i)
        if (p->plottable(i) != m_heat)
            p->removePlottable(i);
    const QString key = metric();
    const bool log = m_log->isChecked();
    const QStringList mods = modules();
    const int layers = layerCount();
    const int n = int(mods.size());
    // Drawn: NaN (absent, null) stays a gap, and so does a non-positive value on a log axis.
    auto shown = [&](int l, const QString &m) {
        const double v = value(l, m, key);
        return log && !(v > 0) ? kNaN : v;
    };
    const double width = n > 0 ? 0.8 / n : 0.8;
    double lo = std::numeric_limits<double>::infinity();
    double hi = -lo;
    for (int m = 0; m < n; ++m) {
        auto *bars = new QCPBars(p->xAxis, p->yAxis);
        bars->setName(mods[m]);
        bars->setWidth(width * 0.92);
        bars->setPen(Qt::NoPen);
        bars->setBrush(kModuleColors[m % 8]);
        QVector<double> x, y;
        for (int l = 0; l < layers; ++l) {
            const double v = shown(l, mods[m]);
            if (std::isnan(v))
                continue;
            x << l + (m - (n - 1) / 2.0) * width;
            y << v;
            lo = std::min(lo, v);
            hi = std::max(hi, v);
        }
        bars->setData(x, y);
    }
    const QString label = m_metric->currentText();
    p->yAxis->setLabel(label);
    p->yAxis->setScaleType(log ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
    if (log)
        p->yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
    else
        p->yAxis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
    p->xAxis->setRange(-0.6, std::max(0, layers - 1) + 0.6);
    if (std::isfinite(lo)) {
        const double span = hi - lo;
        if (log)
            p->yAxis->setRange(lo / 2, hi * 2);
        else if (lo > 0 && span < 0.25 * hi) { // cosine near 1, kurtosis near 3: show the spread
            const double s = std::max(span, 1e-12 * hi);
            p->yAxis->setRange(lo - s, hi + 0.2 * s);
        }
        else
            p->yAxis->setRange(std::min(0.0, lo) * 1.1, std::max(hi * 1.1, hi + 1e-12));
    }
    m_title->setText(hasData() ? tr("%1 — %2").arg(label, pageTitle(node())) : QString());

    // Heatmap: cells at integer (layer, module index); gaps are transparent.
    m_heat->data()->setSize(std::max(1, layers), std::max(1, n));
    // A single cell in a dimension would be drawn zero-wide over a degenerate range: give it
    // the unit range around its index instead.
    auto cellRange = [](int count) {
        return count > 1 ? QCPRange(0, count - 1) : QCPRange(-0.5, 0.5);
    };
    m_heat->data()->setRange(cellRange(layers), cellRange(n));
    m_heat->data()->clearAlpha();
    m_heat->data()->fill(std::isfinite(lo) ? lo : (log ? 1 : 0));
    for (int l = 0; l < layers; ++l)
        for (int m = 0; m < n; ++m) {
            const double v = shown(l, mods[m]);
            if (std::isnan(v))
                m_heat->data()->setAlpha(l, m, 0);
            else
                m_heat->data()->setCell(l, m, v);
        }
    if (layers == 0)
        m_heat->data()->fillAlpha(0);
    m_heat->setDataScaleType(log ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
    if (std::isfinite(lo)) {
        const double pad = hi > lo ? 0 : std::max(std::abs(hi) * 0.05, 1e-12);
        m_heat->setDataRange(QCPRange(lo - (log ? 0 : pad), hi + pad));
    }
    QSharedPointer<QCPAxisTickerText> ticker(new QCPAxisTickerText);
    for (int m = 0; m < n; ++m)
        ticker->addTick(m, mods[m]);
    m_heatRect->axis(QCPAxis::atLeft)->setTicker(ticker);
    m_heatRect->axis(QCPAxis::atBottom)->setRange(-0.5, std::max(0, layers - 1) + 0.5);
    m_heatRect->axis(QCPAxis::atLeft)->setRange(-0.5, std::max(0, n - 1) + 0.5);
    m_scale->axis()->setLabel(label);
}

} // namespace qbui
