// WeightHistogramChart: the weights of one linear layer before and after quantization, from
// "weight_histogram" metric events (data: layer, kind, bin_edges, reference_counts,
// quantized_counts, levels, levels_source). Both histograms are filled steps over the bin edges;
// the values the method can produce (levels) are thin vertical lines, drawn as one impulse graph
// on a hidden 0..1 axis so that 255 int8 levels cost one plottable, not 255 items. The title names
// the layer, its quantized kind, the node and where the levels came from. One histogram per
// (node, layer), a later payload replacing an earlier one; a combo box picks the one shown and
// each is a page for the report. GUI thread only.
#pragma once
#include "chart_widget.h"

#include <nlohmann/json.hpp>

#include <map>

class QComboBox;
class QCPGraph;
class QCPTextElement;

namespace qbui {

class WeightHistogramChart : public ChartWidget
{
    Q_OBJECT

public:
    struct Histogram
    {
        QString node;
        QString layer;
        QString kind;
        QString levelsSource;
        QVector<double> edges;     // bins + 1, ascending
        QVector<double> reference; // bins counts
        QVector<double> quantized; // bins counts
        QVector<double> levels;    // ascending
    };

    explicit WeightHistogramChart(QWidget *parent = nullptr);

    // One "weight_histogram" payload from node; false (with *error) when it is malformed.
    bool addHistogram(const QString &node, const nlohmann::json &data, QString *error = nullptr);
    const Histogram *histogram(const QString &page) const; // nullptr when unknown
    const Histogram *shown() const;                        // nullptr when empty

    // After flush(): the plotted reference / quantized steps, the level lines and the title.
    QCPGraph *referenceGraph() const { return m_reference; }
    QCPGraph *quantizedGraph() const { return m_quantized; }
    QCPGraph *levelGraph() const { return m_levels; }
    QString plotTitle() const;

    bool hasData() const override { return !m_histograms.empty(); }
    void clear() override;
    QStringList pages() const override;
    QString currentPage() const override;
    void setCurrentPage(const QString &page) override;
    QString pageTitle(const QString &page) const override;

protected:
    void rebuild() override;

private:
    std::map<QString, Histogram> m_histograms; // by page id "node/layer"
    QComboBox *m_select;
    QCPGraph *m_reference;
    QCPGraph *m_quantized;
    QCPGraph *m_levels;
    QCPTextElement *m_title;
};

} // namespace qbui
