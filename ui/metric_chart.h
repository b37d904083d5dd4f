// MetricChart: the metric series of a run that have no chart of their own, each against its true
// x (events.h MetricX): one view for training steps (loss, learning rate, accuracy during
// training), one for layer indices (per-layer errors), one for bits/param, and one for single
// values without an x (tokens/s, a mean KL), drawn as labelled points. Within a view, series are
// grouped by unit: one panel with its own y axis per unit, x shared, so a loss in nats never
// shares an axis with a learning rate. The views are the chart's pages; a combo box narrows a
// view to one series name. Fed through addPoint(). GUI thread only.
#pragma once
#include "chart_widget.h"

#include "api/events.h"

#include <map>
#include <string>
#include <vector>

class QComboBox;
class QCPMarginGroup;

namespace qbui {

class MetricChart : public ChartWidget
{
    Q_OBJECT

public:
    explicit MetricChart(QWidget *parent = nullptr);

    void addPoint(const QString &node, const QString &series, double step, double value,
                  qb::MetricX x = qb::MetricX::Step, const QString &unit = {});
    bool hasData() const override { return !m_series.empty(); }
    void clear() override;
    // Number of points stored for one (node, series), for tests and status lines.
    int pointCount(const QString &node, const QString &series) const;
    QStringList seriesNames() const;
    void setFilter(const QString &seriesName); // empty: all

    // Pages are the x kinds that have data ("step", "layer", "bits", "none"), in that order.
    QStringList pages() const override;
    QString currentPage() const override;
    void setCurrentPage(const QString &page) override;
    QString pageTitle(const QString &page) const override;
    // The units of the panels the current view shows, top to bottom (for tests).
    QStringList panelUnits() const { return m_panelUnits; }

protected:
    void rebuild() override;

private:
    struct Series
    {
        qb::MetricX x = qb::MetricX::Step;
        QString unit;
        QVector<double> steps;
        QVector<double> values;
    };
    void updateViews();

    std::map<std::pair<QString, QString>, Series> m_series; // (node, name)
    QComboBox *m_view;
    QComboBox *m_filter;
    QStringList m_panelUnits;
    QCPMarginGroup *m_group = nullptr; // aligns the panels' left and right margins
};

} // namespace qbui
