#include "report_writer.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>

#include <algorithm>

namespace qbui {

namespace {

struct KindInfo
{
    const char *kind;
    const char *title;
    QStringList columns; // in this order first; other keys follow in the order first seen
};

const QStringList kMainColumns = {"model", "label", "precision", "task", "n", "accuracy",
                                  "ci_low", "ci_high", "unparsed_rate", "weight_bytes",
                                  "tokens_per_second", "prefill_tokens_per_second"};

const std::vector<KindInfo> &knownKinds()
{
    static const QStringList layerBase = {"node", "label", "quantized", "reference"};
    static const QStringList sensBase = {"node", "model", "low", "high"};
    static const std::vector<KindInfo> kinds = {
        {"layer_error.layer", QT_TR_NOOP("Layer error: per linear layer"),
         layerBase + QStringList{"layer", "module", "name", "kind", "rel_mse", "sqnr_db", "cosine",
                                 "max_abs", "kl", "weight_rel_mse", "act_absmax",
                                 "act_outlier_fraction", "act_outlier_channels",
                                 "weight_kurtosis", "tokens"}},
        {"layer_error.block", QT_TR_NOOP("Layer error: hidden state per block"),
         layerBase + QStringList{"layer", "rel_error", "cosine"}},
        {"layer_error.model", QT_TR_NOOP("Layer error: model (KL and perplexity)"),
         layerBase + QStringList{"kl_mean", "kl_max", "ppl_reference", "ppl_quantized",
                                 "positions", "predicted", "calibration"}},
        {"sensitivity.layer", QT_TR_NOOP("Sensitivity: per layer"),
         sensBase + QStringList{"layer", "module", "name", "parameters", "low_kind", "high_kind",
                                "low_bytes", "high_bytes", "kl_low", "kl_high", "rank",
                                "upgraded"}},
        {"sensitivity.curve", QT_TR_NOOP("Sensitivity: KL vs bits/param"),
         sensBase + QStringList{"upgraded", "layer", "bits_per_param", "kl"}},
        {"sensitivity.allocation", QT_TR_NOOP("Sensitivity: allocation"),
         sensBase + QStringList{"budget_bits", "feasible", "bits_per_param", "kl", "upgraded",
                                "overrides", "quantize_params"}},
    };
    return kinds;
}

QString cellText(const nlohmann::json &v)
{
    if (v.is_null())
        return {};
    if (v.is_string())
        return QString::fromStdString(v.get<std::string>());
    if (v.is_number_float())
        return QString::number(v.get<double>(), 'g', 5);
    return QString::fromStdString(v.dump());
}

QString analysisKind(const nlohmann::json &row)
{
    if (!row.is_object())
        return {};
    auto it = row.find("analysis");
    return it == row.end() || it->is_null() ? QString() : cellText(*it);
}

// The preferred columns that occur, then the others in the order first seen ("analysis" is the
// table's title, not a column).
QStringList columns(const nlohmann::json &rows, const QStringList &preferred)
{
    QStringList seen;
    for (const auto &r : rows)
        if (r.is_object())
            for (const auto &[k, v] : r.items())
                if (k != "analysis" && !seen.contains(QString::fromStdString(k)))
                    seen << QString::fromStdString(k);
    QStringList out;
    for (const QString &c : preferred)
        if (seen.contains(c))
            out << c;
    for (const QString &c : seen)
        if (!out.contains(c))
            out << c;
    return out;
}

QString cell(const nlohmann::json &row, const QString &column)
{
    return row.is_object() ? cellText(row.value(column.toStdString(), nlohmann::json()))
                           : QString();
}

bool writeText(const QString &path, const QString &text, QStringList *problems)
{
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate)
        || f.write(text.toUtf8()) < 0) {
        *problems << QObject::tr("%1: cannot write (%2)").arg(path, f.errorString());
        return false;
    }
    return true;
}

} // namespace

std::vector<ResultTable> resultTables(const nlohmann::json &rows)
{
    std::vector<ResultTable> tables(1);
    tables[0].title = QObject::tr("Results");
    if (rows.is_array()) {
        for (const auto &r : rows) {
            const QString kind = analysisKind(r);
            auto it = std::find_if(tables.begin(), tables.end(),
                                   [&](const ResultTable &t) { return t.kind == kind; });
            if (it == tables.end()) {
                ResultTable t;
                t.kind = kind;
                t.title = kind;
                for (const KindInfo &k : knownKinds())
                    if (kind == QLatin1String(k.kind))
                        t.title = QObject::tr(k.title);
                tables.push_back(t);
                it = tables.end() - 1;
            }
            it->rows.push_back(r);
        }
    }
    for (ResultTable &t : tables) {
        QStringList preferred = kMainColumns;
        for (const KindInfo &k : knownKinds())
            if (t.kind == QLatin1String(k.kind))
                preferred = k.columns;
        t.columns = columns(t.rows, preferred);
    }
    return tables;
}

QString tableMarkdown(const ResultTable &table)
{
    if (table.rows.empty())
        return {};
    QString md = QStringLiteral("| ") + table.columns.join(QStringLiteral(" | "))
        + QStringLiteral(" |\n|");
    for (int i = 0; i < table.columns.size(); ++i)
        md += QStringLiteral("---|");
    md += '\n';
    for (const auto &r : table.rows) {
        QStringList cells;
        for (const QString &c : table.columns)
            cells << cell(r, c).replace('|', "\\|");
        md += QStringLiteral("| ") + cells.join(QStringLiteral(" | ")) + QStringLiteral(" |\n");
    }
    return md;
}

QString tableHtml(const ResultTable &table)
{
    if (table.rows.empty())
        return {};
    QString html = QStringLiteral("<table><tr>");
    for (const QString &c : table.columns)
        html += QStringLiteral("<th>%1</th>").arg(c.toHtmlEscaped());
    html += QStringLiteral("</tr>\n");
    for (const auto &r : table.rows) {
        html += QStringLiteral("<tr>");
        for (const QString &c : table.columns)
            html += QStringLiteral("<td>%1</td>").arg(cell(r, c).toHtmlEscaped());
        html += QStringLiteral("</tr>\n");
    }
    return html + QStringLiteral("</table>\n");
}

QString resultsMarkdown(const nlohmann::json &rows)
{
    return tableMarkdown(resultTables(rows).front());
}

QStringList writeReport(const QString &dirPath, const ChartSet &charts, const ReportInput &input,
                        int width, int height)
{
    QStringList problems;
    const QDir dir(dirPath);
    if (!QDir().mkpath(dirPath))
        return {QObject::tr("%1: cannot create folder").arg(dirPath)};
    QStringList files;
    problems << charts.exportFigures(dir.filePath(QStringLiteral("figures")), width, height, &files);
    if (!input.experimentYaml.isEmpty())
        writeText(dir.filePath(QStringLiteral("experiment.yaml")), input.experimentYaml, &problems);

    const nlohmann::json rows = input.results.is_object() && input.results.contains("results")
        ? input.results["results"] : nlohmann::json::array();
    QString md = QStringLiteral("# %1\n\n").arg(input.title);
    QString html = QStringLiteral("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%1"
                                  "</title><style>body{font-family:sans-serif;max-width:1100px;"
                                  "margin:auto}table{border-collapse:collapse}td,th{border:1px "
                                  "solid #bbb;padding:3px 8px}img{max-width:100%}</style>"
                                  "</head><body>\n<h1>%1</h1>\n")
                       .arg(input.title.toHtmlEscaped());
    if (input.results.is_object() && input.results.contains("status")) {
        const QString status = cellText(input.results["status"]);
        md += QStringLiteral("Run status: **%1**").arg(status);
        html += QStringLiteral("<p>Run status: <b>%1</b>").arg(status.toHtmlEscaped());
        if (!input.runDir.isEmpty()) {
            md += QStringLiteral(" — run folder `%1`").arg(input.runDir);
            html += QStringLiteral(" — run folder <code>%1</code>").arg(input.runDir.toHtmlEscaped());
        }
        md += QStringLiteral("\n\n");
        html += QStringLiteral("</p>\n");
    }
    const std::vector<ResultTable> tables = resultTables(rows);
    md += QStringLiteral("## Results\n\n");
    html += QStringLiteral("<h2>Results</h2>\n");
    if (tables.front().rows.empty()) {
        const QString none = tables.size() > 1 ? QObject::tr("No evaluation rows.")
                                               : QObject::tr("No result rows.");
        md += none + QStringLiteral("\n\n");
        html += QStringLiteral("<p>%1</p>\n").arg(none);
    } else {
        md += tableMarkdown(tables.front()) + '\n';
        html += tableHtml(tables.front());
    }
    if (tables.size() > 1) {
        md += QStringLiteral("## Analysis\n\n");
        html += QStringLiteral("<h2>Analysis</h2>\n");
        for (size_t i = 1; i < tables.size(); ++i) {
            md += QStringLiteral("### %1\n\n").arg(tables[i].title) + tableMarkdown(tables[i])
                + '\n';
            html += QStringLiteral("<h3>%1</h3>\n").arg(tables[i].title.toHtmlEscaped())
                + tableHtml(tables[i]);
        }
    }
    md += QStringLiteral("## Figures\n\n");
    html += QStringLiteral("<h2>Figures</h2>\n");
    for (const ChartSet::Figure &f : charts.figures()) {
        const QString png = QStringLiteral("figures/%1.png").arg(f.stem);
        md += QStringLiteral("### %1\n\n![%1](%2)\n\nAlso as [SVG](figures/%3.svg) and "
                             "[PDF](figures/%3.pdf).\n\n")
                  .arg(f.title, png, f.stem);
        html += QStringLiteral("<h3>%1</h3>\n<img src=\"%2\" alt=\"%1\">\n<p><a href=\"figures/"
                               "%3.svg\">SVG</a> · <a href=\"figures/%3.pdf\">PDF</a></p>\n")
                    .arg(f.title.toHtmlEscaped(), png, f.stem);
    }
    if (charts.flips()->hasData()) {
        const QString flips = charts.flips()->toMarkdown();
        md += QStringLiteral("## Per-question flips\n\n") + flips;
        html += QStringLiteral("<h2>Per-question flips</h2>\n<pre>%1</pre>\n")
                    .arg(flips.toHtmlEscaped());
    }
    if (!input.experimentYaml.isEmpty()) {
        md += QStringLiteral("## Experiment\n\n```yaml\n%1```\n").arg(input.experimentYaml);
        html += QStringLiteral("<h2>Experiment</h2>\n<pre>%1</pre>\n")
                    .arg(input.experimentYaml.toHtmlEscaped());
    }
    html += QStringLiteral("</body></html>\n");
    writeText(dir.filePath(QStringLiteral("report.md")), md, &problems);
    writeText(dir.filePath(QStringLiteral("report.html")), html, &problems);
    return problems;
}

} // namespace qbui
