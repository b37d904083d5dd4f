// ChainChart: accuracy by number of reasoning steps, one line per model with 95% intervals —
// the claim that quantization errors accumulate along a reasoning chain, made measurable. Fed
// by evaluation rows (qb::EvalRow::bySteps, GSM-style tasks); shows data when some row spans at
// least two chain lengths. GUI thread only.
#pragma once
#include "chart_widget.h"

#include <nlohmann/json.hpp>

namespace qbui {

class ChainChart : public ChartWidget
{
    Q_OBJECT

public:
    struct Line
    {
        QString series; // "label · dataset"
        QVector<double> steps, accuracy, ciLow, ciHigh; // accuracy in [0, 1]
    };

    explicit ChainChart(QWidget *parent = nullptr);

    void setRows(const nlohmann::json &rows);
    const std::vector<Line> &lines() const { return m_lines; }
    bool hasData() const override { return !m_lines.empty(); }
    void clear() override;

protected:
    void rebuild() override;

private:
    std::vector<Line> m_lines;
};

} // namespace qbui
