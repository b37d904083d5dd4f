// Report export: one folder with every chart (PNG, SVG, PDF under figures/; a chart with several
// pages once per page), report.md and report.html with the results tables and figures, and the
// experiment YAML. Results rows that carry an "analysis" key (layer_error.layer,
// layer_error.block, layer_error.model, sensitivity.layer, sensitivity.curve,
// sensitivity.allocation, ...) go into a table per kind instead of widening the main table.
// Plain functions; GUI thread only (they render widgets).
#pragma once
#include "chart_set.h"

namespace qbui {

struct ReportInput
{
    QString title;
    QString experimentYaml;  // written as experiment.yaml
    nlohmann::json results;  // results.json content (may be null)
    QString runDir;          // shown in the report when known
};

// One table of the report: the main results (kind empty) or one kind of analysis rows.
struct ResultTable
{
    QString kind;    // the rows' "analysis" value; empty for the main table
    QString title;   // "Results", "Layer error: per linear layer", ...
    QStringList columns;
    nlohmann::json rows = nlohmann::json::array();
};

// The main table first (also when it has no rows), then one table per analysis kind in the
// order the kinds first appear.
std::vector<ResultTable> resultTables(const nlohmann::json &rows);

QString tableMarkdown(const ResultTable &table);
QString tableHtml(const ResultTable &table);

// The main results table (rows without an "analysis" key) as Markdown; empty when there are
// no such rows.
QString resultsMarkdown(const nlohmann::json &rows);

// Returns the problems (empty on success).
QStringList writeReport(const QString &dir, const ChartSet &charts, const ReportInput &input,
                        int width = 1200, int height = 800);

} // namespace qbui
