// SensitivityChart: the KL of the quantized model against its bits per parameter, from
// "sensitivity.curve" events (step = bits/param, value = KL, data {upgraded, layer,
// bits_per_param, kl}): one line per sensitivity node, each point one more layer upgraded from the
// low-bit to the high-bit method in order of sensitivity. The allocation the node chose
// ("sensitivity.allocation", data {budget_bits, bits_per_param, kl, upgraded, feasible}) is a star
// on its line and its budget a dashed vertical line. KL falls by decades, so its axis is
// logarithmic unless the box is cleared; a null KL, and on the log axis a non-positive one, is a
// gap. Points with the same (node, upgraded) replace earlier ones. GUI thread only.
#pragma once
#include "chart_widget.h"

#include <nlohmann/json.hpp>

#include <map>

class QCheckBox;
class QCPGraph;

namespace qbui {

class SensitivityChart : public ChartWidget
{
    Q_OBJECT

public:
    struct Point
    {
        double bits = 0;
        double kl = 0; // NaN when the event held null
        QString layer; // the layer upgraded at this point; empty for the all-low start
    };
    struct Allocation
    {
        double budget = 0;
        double bits = 0;
        double kl = 0;
        int upgraded = 0;
        bool feasible = true;
    };

    explicit SensitivityChart(QWidget *parent = nullptr);

    // A "sensitivity.curve" event's data; bits and KL fall back to step and value.
    void addCurvePoint(const QString &node, const nlohmann::json &data, double step, double value);
    // A "sensitivity.allocation" event's data, likewise.
    void setAllocation(const QString &node, const nlohmann::json &data, double step, double value);
    QStringList nodes() const;
    std::vector<Point> curve(const QString &node) const; // in order of upgrades
    const Allocation *allocation(const QString &node) const;
    void setLogScale(bool log);

    // After flush(): the plotted line of a node, its allocation star, and the budget lines.
    QCPGraph *curveGraph(const QString &node) const;
    QCPGraph *allocationGraph(const QString &node) const;
    QVector<double> budgetLines() const;

    bool hasData() const override { return !m_curves.empty(); }
    void clear() override;

protected:
    void rebuild() override;

private:
    std::map<QString, std::map<int, Point>> m_curves; // node -> upgraded count -> point
    std::map<QString, Allocation> m_allocations;
    std::map<QString, QCPGraph *> m_curveGraphs;
    std::map<QString, QCPGraph *> m_allocationGraphs;
    QCheckBox *m_log;
};

} // namespace qbui
