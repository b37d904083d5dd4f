// ChartWidget: the frame every QCustomPlot chart shares: a tool row (chart-specific controls and
// an Export button), the plot, coalesced replots (data may arrive hundreds of times a second; the
// plot redraws at most every 100 ms), and export to PNG, SVG or PDF at a chosen size. Subclasses
// take data through plain methods so that live runs, run history and tests feed them alike. GUI
// thread only; owns its plot.
#pragma once
#include <QStringList>
#include <QTimer>
#include <QWidget>

class QCustomPlot;
class QHBoxLayout;

namespace qbui {

class ChartWidget : public QWidget
{
    Q_OBJECT

public:
    ChartWidget(const QString &title, const QString &fileStem, QWidget *parent = nullptr);

    QCustomPlot *plot() const { return m_plot; }
    QString title() const { return m_title; }
    QString fileStem() const { return m_fileStem; } // e.g. "metrics", used for exported files
    virtual bool hasData() const = 0;
    virtual void clear() = 0;
    // A chart that holds several views of which it shows one (per analysis node, per layer)
    // lists their ids here so that reports can export each; empty for a single view.
    virtual QStringList pages() const { return {}; }
    virtual QString currentPage() const { return {}; }
    virtual void setCurrentPage(const QString &) {}
    virtual QString pageTitle(const QString &page) const { return page; }

    // Writes the chart to path; the format follows the suffix (.png, .svg, .pdf). Returns an
    // empty string on success, else what went wrong.
    QString exportTo(const QString &path, int width, int height);
    // Draws pending data now instead of at the next timer tick (before exporting or grabbing).
    void flush();

public Q_SLOTS:
    void exportWithDialog();

protected:
    QHBoxLayout *toolRow() const { return m_toolRow; }
    void requestReplot();
    virtual void rebuild() = 0; // push the stored data into the plot

private:
    QString m_title;
    QString m_fileStem;
    QCustomPlot *m_plot;
    QHBoxLayout *m_toolRow;
    QTimer m_replotTimer;
    bool m_dirty = false;
};

// Renders a plot to a file by suffix (.png, .svg, .pdf); empty string on success.
QString exportPlot(QCustomPlot *plot, const QString &path, int width, int height,
                   const QString &title = {});

} // namespace qbui
