// Headless entry points of the quantbench program: render a run folder's figures and report
// without a window, and screenshot the main window (optionally after running a project). Both
// work under QT_QPA_PLATFORM=offscreen. Call from the GUI thread after QApplication exists.
#pragma once
#include <QString>
#include <QTextStream>

namespace qbui {

// Re-draws the charts of runDir from events.jsonl and results.json and writes the report folder
// (figures/*.png|svg|pdf, report.md, report.html, experiment.yaml) to outDir. Problems go to err.
// Returns the process exit code: 0 when the figures were written.
int renderRun(const QString &runDir, const QString &outDir, QTextStream &err, int width = 1200,
              int height = 800);

// Opens the main window (with project when given), runs it to completion when run is set, and
// saves a PNG of the window; select names a node to show in the inspector, chart the file stem of
// the chart tab to bring to the front ("accuracy", "layer_error", ...; the charts then get half
// the window's height). Returns the process exit code (2 for an unknown chart).
int screenshotWindow(const QString &file, const QString &project, bool run, QTextStream &err,
                     const QString &select = {}, const QString &chart = {});

} // namespace qbui
