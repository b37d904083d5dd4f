// LayerErrorChart: the per-layer quantization error from "layer_error" metric events (data:
// layer, module and numeric fields — rel_mse, sqnr_db, cosine, max_abs, kl, weight_rel_mse,
// act_absmax, act_outlier_fraction, act_outlier_channels, weight_kurtosis, and any other number
// the core adds) — bars per layer grouped by module on top, a layer × module heatmap
// (QCPColorMap) below. A combo box picks the metric (every numeric field seen, known ones first);
// another picks the analysis node when several ran (one quantized model each): one node is shown
// at a time, each is a page for the report. A null field (SQNR of an exact layer) and an absent
// one are gaps — no bar, a transparent cell — never zeros; on the log axis a non-positive value is
// a gap too. Points for the same (node, layer, module) replace earlier ones. GUI thread only.
#pragma once
#include "chart_widget.h"

#include <nlohmann/json.hpp>

#include <map>

class QCheckBox;
class QComboBox;
class QCPAxisRect;
class QCPColorMap;
class QCPColorScale;
class QCPTextElement;

namespace qbui {

class LayerErrorChart : public ChartWidget
{
    Q_OBJECT

public:
    explicit LayerErrorChart(QWidget *parent = nullptr);

    // One "layer_error" payload from node; returns false when it lacks layer or module.
    bool addLayerError(const nlohmann::json &data, const QString &node = {});
    // Shown beside the node id, e.g. the quantized model's label from results.json.
    void setNodeLabel(const QString &node, const QString &label);
    QStringList nodes() const; // in order of arrival
    void setNode(const QString &node);
    QString node() const;      // the node shown
    void setMetric(const QString &metric);
    QString metric() const;
    QStringList metrics() const; // what the selector offers (field names)
    void setLogScale(bool log);
    // The stored value for the shown node (or the given one), NaN when absent or null.
    double value(int layer, const QString &module, const QString &metric) const;
    double value(const QString &node, int layer, const QString &module,
                 const QString &metric) const;
    QStringList modules() const; // of the shown node
    // What the heatmap holds in a cell after rebuild, and whether the cell is a gap, for tests.
    double heatmapCell(int layer, int moduleIndex);
    bool heatmapGap(int layer, int moduleIndex);
    int layerCount() const; // of the shown node
    bool hasData() const override { return !m_nodes.empty(); }
    void clear() override;
    QStringList pages() const override { return nodes(); }
    QString currentPage() const override { return node(); }
    void setCurrentPage(const QString &page) override { setNode(page); }
    QString pageTitle(const QString &page) const override;

protected:
    void rebuild() override;

private:
    struct NodeData
    {
        std::map<std::pair<int, QString>, std::map<QString, double>> cells;
        QStringList modules; // in order of arrival
        QString label;
    };
    const NodeData *shownData() const;
    void offerMetric(const QString &key);

    std::map<QString, NodeData> m_nodes;
    QComboBox *m_node;
    QComboBox *m_metric;
    QCheckBox *m_log;
    QCPTextElement *m_title;
    QCPAxisRect *m_heatRect;
    QCPColorMap *m_heat;
    QCPColorScale *m_scale;
};

} // namespace qbui
