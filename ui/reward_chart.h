// RewardChart: a GRPO run per step, in three views (pages) — "reward": the mean reward with a
// ±1 std band (the mean of the groups' std), each reward component, the rollouts' accuracy and the
// held-out greedy accuracy; "policy": KL to the reference, token entropy, clip ratio and the
// fraction of groups whose rewards are all equal (they teach nothing); "length": mean completion
// length and the fraction cut off by the token limit. One line per (GRPO node, series). Fed by
// the grpo node's metric events (addPoint), live and from history. GUI thread only.
#pragma once
#include "chart_widget.h"

#include <map>
#include <set>

class QComboBox;

namespace qbui {

class RewardChart : public ChartWidget
{
    Q_OBJECT

public:
    explicit RewardChart(QWidget *parent = nullptr);

    // True for the metric names this chart shows (reward, reward/*, reward_std, kl, ...).
    static bool isRlSeries(const QString &series);
    // Takes RL series, and eval_accuracy/* of the nodes that have RL series.
    void addPoint(const QString &node, const QString &series, double step, double value);
    bool hasData() const override { return !m_rlNodes.empty(); }
    void clear() override;

    QStringList pages() const override { return {"reward", "policy", "length"}; }
    QString currentPage() const override;
    void setCurrentPage(const QString &page) override;
    QString pageTitle(const QString &page) const override;

    // The graphs the current page draws, by legend name (for tests).
    QStringList graphNames() const;
    int pointCount(const QString &node, const QString &series) const;

protected:
    void rebuild() override;

private:
    struct Series
    {
        QVector<double> steps, values;
    };
    std::map<std::pair<QString, QString>, Series> m_series; // (node, name)
    std::set<QString> m_rlNodes;
    QComboBox *m_page;
};

} // namespace qbui
