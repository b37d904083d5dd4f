// The decoding study's three charts, fed by the decoding sweep's evaluation rows (qb::EvalRow
// with a decoding setting; other rows are ignored):
//   TemperatureChart  accuracy against sampling temperature, a line per precision with Wilson 95%
//                     intervals (single samples: greedy at 0, maj@1 elsewhere); the legend gives
//                     each line's largest drop from greedy. One page per dataset, prompt style,
//                     top-p and top-k.
//   MajorityChart     greedy against maj@k per precision: groups are precisions, bars greedy and
//                     each k, with intervals. One page per dataset, prompt style and sampled
//                     setting (temperature, top-p, top-k).
//   ExtractionChart   the answer-extraction audit: per precision and setting (style, T, maj@k)
//                     strict accuracy (solid bar), flexible accuracy (hollow bar) and the
//                     unparsed rate (diamond). One page per dataset and prompt style.
// Each keeps plain data (lines(), groups(), audit()) so tests and reports read what is drawn.
// GUI thread only.
#pragma once
#include "chart_widget.h"

#include "api/results.h"

#include <nlohmann/json.hpp>

class QComboBox;

namespace qbui {

// A chart over sweep rows with one view per page, chosen in a combo box of the tool row.
class SweepChart : public ChartWidget
{
    Q_OBJECT

public:
    SweepChart(const QString &title, const QString &fileStem, QWidget *parent);

    void setRows(const nlohmann::json &rows); // every row; non-sweep rows are skipped
    bool hasData() const override { return !m_rows.empty(); }
    void clear() override;
    QStringList pages() const override;
    QString currentPage() const override;
    void setCurrentPage(const QString &page) override;

    // A precision's series name ("label", or "model · label" when they differ).
    static QString seriesOf(const qb::EvalRow &row);
    // Its colour: the accuracy chart's precision family hue, darker for each further series of
    // the same family (int8 and llm_int8 both 8-bit).
    QColor seriesColor(const QString &series) const;

protected:
    // The page a row belongs to (empty: on no page of this chart).
    virtual QString pageOf(const qb::EvalRow &row) const = 0;
    const std::vector<qb::EvalRow> &rows() const { return m_rows; }
    std::vector<qb::EvalRow> rowsOn(const QString &page) const;
    QStringList seriesOn(const QString &page) const; // in order of first row

private:
    std::vector<qb::EvalRow> m_rows;
    QComboBox *m_page;
};

class TemperatureChart : public SweepChart
{
    Q_OBJECT

public:
    struct Line
    {
        QString series;
        QVector<double> temperature, accuracy, ciLow, ciHigh; // accuracy in [0, 1]
        double maxDrop = 0; // largest greedy - accuracy over the sampled temperatures
    };

    explicit TemperatureChart(QWidget *parent = nullptr);
    std::vector<Line> lines(const QString &page) const; // ascending temperature

protected:
    QString pageOf(const qb::EvalRow &row) const override;
    void rebuild() override;
};

class MajorityChart : public SweepChart
{
    Q_OBJECT

public:
    struct Bar
    {
        QString series; // "greedy" or "maj@k"
        double accuracy = 0, ciLow = 0, ciHigh = 0;
    };
    struct Group
    {
        QString precision;
        std::vector<Bar> bars; // greedy first, then k ascending
    };

    explicit MajorityChart(QWidget *parent = nullptr);
    std::vector<Group> groups(const QString &page) const;

protected:
    QString pageOf(const qb::EvalRow &row) const override;
    void rebuild() override;
};

class ExtractionChart : public SweepChart
{
    Q_OBJECT

public:
    struct Cell
    {
        QString precision;
        QString setting; // "greedy", "T=0.7", "T=0.7 maj@5" (+ top-p/top-k when not defaults)
        double strict = 0, flexible = 0, unparsed = 0; // in [0, 1]
    };

    explicit ExtractionChart(QWidget *parent = nullptr);
    std::vector<Cell> audit(const QString &page) const; // settings in sweep order
    static QString settingOf(const qb::EvalRow &row);

protected:
    QString pageOf(const qb::EvalRow &row) const override;
    void rebuild() override;
};

} // namespace qbui
