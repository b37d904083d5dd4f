// ResultsTable: the evaluation rows of a run (qb::EvalRow) as a sortable, filterable table —
// model, precision, task, dataset, n, accuracy with its 95% interval, unparsed rate, weight memory,
// tokens/s (decoding, and prefill where the row has it) — copyable as Markdown or CSV. Fed by
// setRows() with results.json rows (other kinds of rows are skipped). GUI thread only.
#pragma once
#include <QWidget>

#include <nlohmann/json.hpp>

class QLineEdit;
class QTableWidget;

namespace qbui {

class ResultsTable : public QWidget
{
    Q_OBJECT

public:
    explicit ResultsTable(QWidget *parent = nullptr);

    void setRows(const nlohmann::json &rows);
    void setFilter(const QString &text); // case-insensitive substring of any cell
    int rowCount() const;                // all rows, shown or not
    int visibleRowCount() const;
    QStringList columnNames() const;
    QString cellText(int row, int column) const; // in the current (sorted) order
    void sortByColumn(int column, Qt::SortOrder order);
    // The visible rows in the current order, with a header line.
    QString markdown() const;
    QString csv() const;

private:
    QLineEdit *m_filter;
    QTableWidget *m_table;
};

} // namespace qbui
