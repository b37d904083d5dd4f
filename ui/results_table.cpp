#include "results_table.h"

#include "api/results.h"

#include <QApplication>
#include <QClipboard>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLineEdit>
#include <QPushButton>
#include <QTableWidget>
#include <QVBoxLayout>

namespace qbui {

namespace {

const QStringList kColumns = {"model", "precision", "task", "dataset", "n", "accuracy %",
                              "95% CI", "unparsed %", "weights MiB", "working MiB", "tokens/s",
                              "prefill tok/s",
                              "decoding",
                              "flexible %", "drop from greedy"};

// A decoding sweep row's setting, "cot T=0.7 maj@5" ("cot greedy"); empty for other rows.
QString decodingText(const qb::EvalRow &r)
{
    if (!r.decoding)
        return {};
    const qb::DecodingSetting &d = *r.decoding;
    QString s = QString::fromStdString(d.promptStyle) + QLatin1Char(' ');
    if (d.temperature == 0)
        return s + QStringLiteral("greedy");
    s += QStringLiteral("T=") + QString::number(d.temperature, 'g', 4);
    if (d.topP != 1)
        s += QStringLiteral(" top_p=") + QString::number(d.topP, 'g', 4);
    if (d.topK != 0)
        s += QStringLiteral(" top_k=") + QString::number(d.topK);
    if (r.selfConsistency > 1)
        s += QStringLiteral(" maj@%1").arg(r.selfConsistency);
    return s;
}

// A cell that sorts by its number when it has one.
QTableWidgetItem *cell(const QString &text, double number = std::numeric_limits<double>::quiet_NaN())
{
    auto *item = new QTableWidgetItem;
    if (std::isnan(number))
        item->setText(text);
    else {
        item->setData(Qt::DisplayRole, number);
        item->setData(Qt::ToolTipRole, text);
    }
    item->setFlags(Qt::ItemIsSelectable | Qt::ItemIsEnabled);
    return item;
}

double round1(double v) { return std::round(v * 10.0) / 10.0; }

} // namespace

ResultsTable::ResultsTable(QWidget *parent)
    : QWidget(parent), m_filter(new QLineEdit(this)), m_table(new QTableWidget(this))
{
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    auto *tools = new QHBoxLayout;
    m_filter->setPlaceholderText(tr("Filter (model, precision, task, ...)"));
    m_filter->setObjectName(QStringLiteral("results:filter"));
    auto *copyMd = new QPushButton(tr("Copy Markdown"), this);
    auto *copyCsv = new QPushButton(tr("Copy CSV"), this);
    tools->addWidget(m_filter, 1);
    tools->addWidget(copyMd);
    tools->addWidget(copyCsv);
    layout->addLayout(tools);
    layout->addWidget(m_table, 1);
    m_table->setColumnCount(int(kColumns.size()));
    m_table->setHorizontalHeaderLabels(kColumns);
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_table->horizontalHeader()->setStretchLastSection(true);
    m_table->verticalHeader()->setVisible(false);
    m_table->setSortingEnabled(true);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    connect(m_filter, &QLineEdit::textChanged, this, &ResultsTable::setFilter);
    connect(copyMd, &QPushButton::clicked, this,
            [this] { QApplication::clipboard()->setText(markdown()); });
    connect(copyCsv, &QPushButton::clicked, this,
            [this] { QApplication::clipboard()->setText(csv()); });
}

void ResultsTable::setRows(const nlohmann::json &rows)
{
    m_table->setSortingEnabled(false);
    m_table->setRowCount(0);
    if (rows.is_array())
        for (const auto &j : rows) {
            if (!qb::EvalRow::matches(j))
                continue;
            const qb::EvalRow r = qb::EvalRow::fromJson(j);
            const int row = m_table->rowCount();
            m_table->insertRow(row);
            const QString ci = QStringLiteral("%1–%2").arg(100 * r.ciLow, 0, 'f', 1)
                                   .arg(100 * r.ciHigh, 0, 'f', 1);
            m_table->setItem(row, 0, cell(QString::fromStdString(r.model)));
            // A non-default arithmetic (QB_ACT_Q8, QB_COMPUTE_BF16) beside the precision: the
            // same weights computed another way are another row to compare.
            QString precision = QString::fromStdString(r.label.empty() ? r.precision : r.label);
            if (!r.arithmetic.empty())
                precision += QStringLiteral(" · ") + QString::fromStdString(r.arithmetic);
            m_table->setItem(row, 1, cell(precision));
            m_table->setItem(row, 2, cell(QString::fromStdString(r.task)));
            m_table->setItem(row, 3, cell(QString::fromStdString(r.dataset)));
            m_table->setItem(row, 4, cell({}, double(r.n)));
            m_table->setItem(row, 5, cell({}, round1(100 * r.accuracy)));
            m_table->setItem(row, 6, cell(ci));
            m_table->setItem(row, 7, cell({}, round1(100 * r.unparsedRate)));
            m_table->setItem(row, 8, cell({}, std::round(r.weightBytes / 1048576.0 * 100) / 100));
            m_table->setItem(row, 9,
                             r.workingMemoryBytes
                                 ? cell({}, std::round(*r.workingMemoryBytes / 1048576.0 * 10) / 10)
                                 : cell({}));
            m_table->setItem(row, 10, cell({}, std::round(r.tokensPerSecond)));
            m_table->setItem(row, 11, r.prefillTokensPerSecond
                                          ? cell({}, std::round(*r.prefillTokensPerSecond))
                                          : cell({}));
            m_table->setItem(row, 12, cell(decodingText(r)));
            m_table->setItem(row, 13, cell({}, round1(100 * r.flexibleAccuracy)));
            const auto drop = r.decoding ? r.decoding->dropFromGreedy(r.accuracy) : std::nullopt;
            m_table->setItem(row, 14, drop ? cell({}, round1(100 * *drop)) : cell({}));
        }
    m_table->setSortingEnabled(true);
    setFilter(m_filter->text());
}

void ResultsTable::setFilter(const QString &text)
{
    if (m_filter->text() != text)
        m_filter->setText(text); // re-enters through textChanged
    for (int r = 0; r < m_table->rowCount(); ++r) {
        bool match = text.isEmpty();
        for (int c = 0; c < m_table->columnCount() && !match; ++c)
            match = cellText(r, c).contains(text, Qt::CaseInsensitive);
        m_table->setRowHidden(r, !match);
    }
}

int ResultsTable::rowCount() const { return m_table->rowCount(); }

int ResultsTable::visibleRowCount() const
{
    int n = 0;
    for (int r = 0; r < m_table->rowCount(); ++r)
        n += !m_table->isRowHidden(r);
    return n;
}

QStringList ResultsTable::columnNames() const { return kColumns; }

QString ResultsTable::cellText(int row, int column) const
{
    const QTableWidgetItem *item = m_table->item(row, column);
    return item ? item->data(Qt::DisplayRole).toString() : QString();
}

void ResultsTable::sortByColumn(int column, Qt::SortOrder order)
{
    m_table->sortItems(column, order);
}

QString ResultsTable::markdown() const
{
    QString md = QStringLiteral("| ") + kColumns.join(QStringLiteral(" | ")) + QStringLiteral(" |\n|");
    for (int c = 0; c < kColumns.size(); ++c)
        md += QStringLiteral("---|");
    md += '\n';
    for (int r = 0; r < m_table->rowCount(); ++r) {
        if (m_table->isRowHidden(r))
            continue;
        QStringList cells;
        for (int c = 0; c < kColumns.size(); ++c)
            cells << cellText(r, c).replace('|', QStringLiteral("\\|"));
        md += QStringLiteral("| ") + cells.join(QStringLiteral(" | ")) + QStringLiteral(" |\n");
    }
    return md;
}

QString ResultsTable::csv() const
{
    auto quote = [](QString s) {
        if (s.contains(',') || s.contains('"') || s.contains('\n'))
            s = '"' + s.replace('"', QStringLiteral("\"\"")) + '"';
        return s;
    };
    QStringList header;
    for (const QString &c : kColumns)
        header << quote(c);
    QString out = header.join(',') + '\n';
    for (int r = 0; r < m_table->rowCount(); ++r) {
        if (m_table->isRowHidden(r))
            continue;
        QStringList cells;
        for (int c = 0; c < kColumns.size(); ++c)
            cells << quote(cellText(r, c));
        out += cells.join(',') + '\n';
    }
    return out;
}

} // namespace qbui
