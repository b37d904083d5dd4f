// ChartSet: the workbench's charts as one unit — the metric-series chart, accuracy per
// precision, recovery per stage, accuracy by reasoning steps, GRPO rewards, the decoding study
// (accuracy vs temperature, greedy vs maj@k, extraction audit), per-layer error, the weight
// histogram, the sensitivity curve and the flips view —
// and the routing of run events and results rows to them. Used by the main window (charts in
// docks) and by headless rendering (charts never shown). GUI thread only. The charts are created
// as children of the given parent widget; the set holds guarded pointers, so docks may re-parent
// them.
#pragma once
#include "accuracy_chart.h"
#include "chain_chart.h"
#include "decoding_charts.h"
#include "flips_view.h"
#include "layer_error_chart.h"
#include "metric_chart.h"
#include "recovery_chart.h"
#include "results_table.h"
#include "reward_chart.h"
#include "run_history.h"
#include "sensitivity_chart.h"
#include "weight_histogram_chart.h"

#include <QPointer>

namespace qbui {

class ChartSet
{
public:
    // One exported figure: a chart, or one page of a chart that has several (page set).
    struct Figure
    {
        ChartWidget *chart = nullptr;
        QString page;  // empty: the chart as shown
        QString stem;  // file name without suffix, e.g. "layer_error-err_nf4"
        QString title;
    };

    explicit ChartSet(QWidget *parent);

    MetricChart *metrics() const { return m_metrics; }
    AccuracyChart *accuracy() const { return m_accuracy; }
    RecoveryChart *recovery() const { return m_recovery; }
    ChainChart *chains() const { return m_chains; }
    RewardChart *rewards() const { return m_rewards; }
    TemperatureChart *temperature() const { return m_temperature; }
    MajorityChart *majority() const { return m_majority; }
    ExtractionChart *extraction() const { return m_extraction; }
    LayerErrorChart *layerError() const { return m_layerError; }
    WeightHistogramChart *weightHistogram() const { return m_histogram; }
    SensitivityChart *sensitivity() const { return m_sensitivity; }
    FlipsView *flips() const { return m_flips; }
    ResultsTable *table() const { return m_table; }
    std::vector<ChartWidget *> charts() const;

    void clear();
    void addEvent(const qb::Event &event);
    // results.json content (or just its rows array).
    void setResults(const nlohmann::json &results);
    void loadRun(const RunRecord &run);

    // The figures a report holds: every chart with data (all when includeEmpty), a chart with
    // several pages once per page.
    std::vector<Figure> figures(bool includeEmpty = false) const;
    // Writes <stem>.png/.svg/.pdf for every figure; returns the problems (empty on success) and
    // appends written files to *files. Charts are left on the page they showed.
    QStringList exportFigures(const QString &dir, int width, int height, QStringList *files,
                              bool includeEmpty = false) const;

private:
    // Every view fed by results rows: decoding sweep rows to the decoding charts, the others to
    // accuracy, recovery and chains; all to the table.
    void setEvaluationRows(const nlohmann::json &rows);

    QPointer<MetricChart> m_metrics;
    QPointer<AccuracyChart> m_accuracy;
    QPointer<RecoveryChart> m_recovery;
    QPointer<ChainChart> m_chains;
    QPointer<RewardChart> m_rewards;
    QPointer<TemperatureChart> m_temperature;
    QPointer<MajorityChart> m_majority;
    QPointer<ExtractionChart> m_extraction;
    QPointer<LayerErrorChart> m_layerError;
    QPointer<WeightHistogramChart> m_histogram;
    QPointer<SensitivityChart> m_sensitivity;
    QPointer<FlipsView> m_flips;
    QPointer<ResultsTable> m_table;
    nlohmann::json m_liveRows = nlohmann::json::array(); // evaluation rows of the running run
};

} // namespace qbui
