// AccuracyChart: accuracy per precision from results rows (results.json "results": model, label,
// precision, task, accuracy, ci_low, ci_high, weight_bytes) — grouped bars per task, one bar per
// model/precision label, 95% interval as error bars, and weight memory in MiB as markers on a
// second y axis. Rows without an accuracy are ignored. GUI thread only.
#pragma once
#include "chart_widget.h"

#include <nlohmann/json.hpp>

namespace qbui {

class AccuracyChart : public ChartWidget
{
    Q_OBJECT

public:
    struct Row
    {
        QString series; // label, else precision, else model
        QString task;
        double accuracy = 0; // 0..1
        double ciLow = 0;
        double ciHigh = 0;
        double weightMiB = 0; // 0 when unknown
        QString family;       // full, 8bit, 4bit, low, recovered (colour family)
    };

    // The colour family of a model from its precision label and recovery stage.
    static QString familyOf(const QString &precision, const QString &label, const QString &stage);

    explicit AccuracyChart(QWidget *parent = nullptr);

    void setRows(const nlohmann::json &rows);
    void addRows(const nlohmann::json &rows);
    const std::vector<Row> &rows() const { return m_rows; }
    QStringList tasks() const;
    QStringList seriesNames() const;
    bool hasData() const override { return !m_rows.empty(); }
    void clear() override;

protected:
    void rebuild() override;

private:
    std::vector<Row> m_rows;
};

} // namespace qbui
