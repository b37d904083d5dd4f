#include "headless.h"

#include "chart_set.h"
#include "graph_scene.h"
#include "graph_view.h"
#include "main_window.h"
#include "report_writer.h"
#include "run_history.h"

#include <QApplication>
#include <QDir>
#include <QDockWidget>
#include <QEventLoop>
#include <QTimer>

namespace qbui {

int renderRun(const QString &runDir, const QString &outDir, QTextStream &err, int width,
              int height)
{
    if (!QFileInfo(runDir).isDir()) {
        err << runDir << ": not a run folder\n";
        return 2;
    }
    const RunRecord run = loadRunFolder(runDir);
    for (const QString &p : run.problems)
        err << "warning: " << p << "\n";
    QWidget host; // charts need a parent; it is never shown
    ChartSet charts(&host);
    charts.loadRun(run);
    ReportInput input;
    input.title = QObject::tr("QuantBench report: %1").arg(QFileInfo(runDir).fileName());
    input.experimentYaml = run.experimentYaml;
    input.results = run.results;
    input.runDir = QDir(runDir).absolutePath();
    const QStringList problems = writeReport(outDir, charts, input, width, height);
    for (const QString &p : problems)
        err << "error: " << p << "\n";
    err.flush();
    return problems.isEmpty() ? 0 : 1;
}

int screenshotWindow(const QString &file, const QString &project, bool run, QTextStream &err,
                     const QString &select, const QString &chart)
{
    MainWindow window;
    window.setInteractive(false);
    window.resize(1600, 1000);
    window.show();
    QDockWidget *chartDock = nullptr;
    if (!chart.isEmpty()) {
        QStringList known;
        for (ChartWidget *c : window.charts()->charts())
            known << c->fileStem();
        known << QStringLiteral("results"); // the results table's dock
        chartDock = window.findChild<QDockWidget *>(QStringLiteral("chart_") + chart);
        if (!chartDock) {
            err << "--chart: unknown chart '" << chart << "' (" << known.join(QStringLiteral(", "))
                << ")\n";
            return 2;
        }
    }
    if (!project.isEmpty() && !window.openFile(project)) {
        err << window.lastError() << "\n";
        return 1;
    }
    if (run) {
        QEventLoop loop;
        QString status;
        QObject::connect(&window, &MainWindow::runFinished, &loop, [&](const QString &s) {
            status = s;
            loop.quit();
        });
        if (!window.startRun()) {
            err << window.lastError() << "\n";
            return 1;
        }
        loop.exec();
        if (status != QLatin1String("ok"))
            err << "run ended: " << status << " " << QString::fromStdString(
                window.lastSummary().error) << "\n";
    }
    // Let layouts settle and coalesced chart replots happen before grabbing.
    QEventLoop settle;
    QTimer::singleShot(400, &settle, &QEventLoop::quit);
    settle.exec();
    for (ChartWidget *c : window.charts()->charts())
        c->flush();
    if (chartDock) {
        chartDock->raise();
        window.resizeDocks({chartDock}, {window.height() / 2}, Qt::Vertical);
        QApplication::processEvents();
    }
    window.view()->fitNodes();
    if (!select.isEmpty())
        window.scene()->selectNodes({select.toStdString()});
    QApplication::processEvents();
    const QPixmap shot = window.grab();
    if (!shot.save(file)) {
        err << file << ": cannot write PNG\n";
        return 1;
    }
    return 0;
}

} // namespace qbui
