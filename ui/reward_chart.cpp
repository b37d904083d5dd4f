#include "reward_chart.h"

#include "qcp.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>

namespace qbui {

namespace {

const QStringList kPolicySeries = {"kl", "entropy", "clip_ratio", "frac_reward_zero_std"};
const QStringList kLengthSeries = {"completion_length", "truncated"};

const QColor kColors[] = {QColor(0x4c, 0x72, 0xb0), QColor(0xc4, 0x4e, 0x52),
                          QColor(0x55, 0xa8, 0x68), QColor(0xdd, 0x84, 0x52),
                          QColor(0x81, 0x72, 0xb3), QColor(0x93, 0x78, 0x60),
                          QColor(0xda, 0x8b, 0xc3), QColor(0x2a, 0x9d, 0x8f)};

} // namespace

RewardChart::RewardChart(QWidget *parent)
    : ChartWidget(tr("GRPO: rewards and policy"), QStringLiteral("rewards"), parent),
      m_page(new QComboBox)
{
    m_page->addItem(tr("Rewards"), QStringLiteral("reward"));
    m_page->addItem(tr("Policy (KL, entropy, clipping)"), QStringLiteral("policy"));
    m_page->addItem(tr("Completion length"), QStringLiteral("length"));
    toolRow()->insertWidget(0, new QLabel(tr("View:")));
    toolRow()->insertWidget(1, m_page);
    connect(m_page, &QComboBox::currentIndexChanged, this, [this] { requestReplot(); });
    plot()->legend->setVisible(true);
    plot()->legend->setFont(QFont(font().family(), 8));
    plot()->xAxis->setLabel(tr("GRPO step"));
}

bool RewardChart::isRlSeries(const QString &s)
{
    return s == "reward" || s.startsWith("reward/") || s == "reward_std"
        || s == "rollout_accuracy" || kPolicySeries.contains(s) || kLengthSeries.contains(s)
        || s == "rollout_tokens_per_s";
}

void RewardChart::addPoint(const QString &node, const QString &series, double step, double value)
{
    const bool rl = isRlSeries(series);
    if (!rl && !series.startsWith("eval_accuracy/"))
        return;
    if (rl)
        m_rlNodes.insert(node);
    Series &s = m_series[{node, series}];
    s.steps << step;
    s.values << value;
    requestReplot();
}

void RewardChart::clear()
{
    m_series.clear();
    m_rlNodes.clear();
    requestReplot();
}

QString RewardChart::currentPage() const
{
    return m_page->currentData().toString();
}

void RewardChart::setCurrentPage(const QString &page)
{
    const int i = m_page->findData(page);
    if (i >= 0)
        m_page->setCurrentIndex(i);
    flush();
}

QString RewardChart::pageTitle(const QString &page) const
{
    const int i = m_page->findData(page);
    return i >= 0 ? tr("GRPO: %1").arg(m_page->itemText(i)) : page;
}

int RewardChart::pointCount(const QString &node, const QString &series) const
{
    const auto it = m_series.find({node, series});
    return it == m_series.end() ? 0 : it->second.steps.size();
}

QStringList RewardChart::graphNames() const
{
    QStringList names;
    for (int i = 0; i < plot()->graphCount(); ++i)
        if (!plot()->graph(i)->name().isEmpty())
            names << plot()->graph(i)->name();
    return names;
}

void RewardChart::rebuild()
{
    QCustomPlot *p = plot();
    p->clearPlottables();
    const QString page = currentPage();
    const bool several = m_rlNodes.size() > 1;
    int colour = 0;
    auto line = [&](const QString &node, const QString &name, const QString &label, Qt::PenStyle style,
                    const QColor &c) -> QCPGraph * {
        const auto it = m_series.find({node, name});
        if (it == m_series.end())
            return nullptr;
        QCPGraph *g = p->addGraph();
        g->setName(several ? node + " · " + label : label);
        g->setPen(QPen(c, style == Qt::SolidLine ? 2 : 1.5, style));
        g->setData(it->second.steps, it->second.values);
        return g;
    };
    for (const QString &node : m_rlNodes) {
        if (page == "reward") {
            const QColor c = kColors[colour++ % 8];
            QCPGraph *mean = line(node, "reward", tr("mean reward"), Qt::SolidLine, c);
            const auto sd = m_series.find({node, "reward_std"});
            if (mean && sd != m_series.end()) {
                // The ±1 std band: two unnamed graphs filled between each other.
                const auto &r = m_series[{node, "reward"}];
                QVector<double> lo, hi;
                const int n = std::min(r.values.size(), sd->second.values.size());
                for (int i = 0; i < n; ++i) {
                    lo << r.values[i] - sd->second.values[i];
                    hi << r.values[i] + sd->second.values[i];
                }
                QColor fill = c;
                fill.setAlpha(40);
                QCPGraph *upper = p->addGraph();
                upper->setPen(Qt::NoPen);
                upper->setData(r.steps.mid(0, n), hi);
                upper->setName(QString());
                upper->removeFromLegend();
                QCPGraph *lower = p->addGraph();
                lower->setPen(Qt::NoPen);
                lower->setBrush(fill);
                lower->setData(r.steps.mid(0, n), lo);
                lower->setChannelFillGraph(upper);
                lower->setName(QString());
                lower->removeFromLegend();
            }
            for (const auto &[key, s] : m_series) {
                if (key.first != node)
                    continue;
                if (key.second.startsWith("reward/"))
                    line(node, key.second, key.second.mid(7), Qt::DashLine, kColors[colour++ % 8]);
            }
            line(node, "rollout_accuracy", tr("rollouts right"), Qt::DotLine, kColors[colour++ % 8]);
            for (const auto &[key, s] : m_series)
                if (key.first == node && key.second.startsWith("eval_accuracy/")) {
                    QCPGraph *g = line(node, key.second, tr("held-out greedy: %1").arg(key.second.mid(14)),
                                       Qt::SolidLine, kColors[colour++ % 8]);
                    g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 6));
                }
            p->yAxis->setLabel(tr("reward / accuracy"));
        } else {
            const QStringList names = page == "policy" ? kPolicySeries : kLengthSeries;
            for (const QString &name : names)
                line(node, name, name, Qt::SolidLine, kColors[colour++ % 8]);
            p->yAxis->setLabel(page == "policy" ? tr("value (KL and entropy in nats)")
                                                : tr("tokens / fraction"));
        }
    }
    p->rescaleAxes();
    if (page == "length") {
        // The truncated fraction is in [0, 1], the length in tokens: a second axis keeps both
        // readable.
        for (int i = 0; i < p->graphCount(); ++i)
            if (p->graph(i)->name().endsWith("truncated")) {
                p->yAxis2->setVisible(true);
                p->yAxis2->setLabel(tr("fraction truncated"));
                p->graph(i)->setValueAxis(p->yAxis2);
                p->yAxis2->setRange(0, 1.05);
            }
    } else {
        p->yAxis2->setVisible(false);
    }
}

} // namespace qbui
