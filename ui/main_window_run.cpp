// MainWindow's run side: starting and cancelling runs, turning run events into node states, log
// lines and chart points, run history and report export.
#include "main_window.h"

#include "chart_set.h"
#include "graph_model.h"
#include "graph_scene.h"
#include "report_writer.h"
#include "run_controller.h"
#include "run_history.h"

#include <QAction>
#include <QDateTime>
#include <QDir>
#include <QFileInfo>
#include <QLabel>
#include <QPlainTextEdit>
#include <QStatusBar>
#include <QThread>

namespace qbui {

bool MainWindow::isRunning() const
{
    return m_runner->isRunning();
}

const qb::RunSummary &MainWindow::lastSummary() const
{
    return m_runner->lastSummary();
}

void MainWindow::updateRunActions()
{
    const bool running = isRunning();
    m_runAll->setEnabled(!running);
    m_runUpTo->setEnabled(!running);
    m_cancel->setEnabled(running);
    m_runLabel->setText(running ? tr("Running...") : QString());
}

bool MainWindow::startRun(const QString &upTo)
{
    if (isRunning()) {
        m_lastError = tr("A run is already in progress");
        statusBar()->showMessage(m_lastError, 6000);
        return false;
    }
    const qb::Experiment &exp = m_model->experiment();
    const auto &problems = m_model->problems();
    if (!problems.empty()) {
        QStringList lines;
        for (const auto &[node, list] : problems)
            for (const QString &p : list)
                lines << (node.empty() ? p : QString::fromStdString(node) + ": " + p);
        showError(tr("The experiment is not valid"), lines.join('\n'));
        return false;
    }
    if (exp.nodes.empty()) {
        showError(tr("Nothing to run"), tr("Add nodes to the experiment first."));
        return false;
    }
    std::vector<std::string> order;
    try {
        order = qb::executionOrder(exp, upTo.toStdString());
    } catch (const std::exception &e) {
        showError(tr("Cannot run"), QString::fromUtf8(e.what()));
        return false;
    }
    qb::RunOptions options;
    // runs/<name>-<time> as the CLI does, but never an existing folder: two runs in one second
    // would otherwise collide.
    const QString base = QStringLiteral("runs/%1-%2")
                             .arg(QString::fromStdString(exp.name.empty() ? "run" : exp.name),
                                  QDateTime::currentDateTime().toString("yyyyMMdd-HHmmss"));
    QString outDir = base;
    for (int i = 2; QFileInfo::exists(outDir) || QFileInfo::exists(outDir + ".partial"); ++i)
        outDir = base + "-" + QString::number(i);
    options.outDir = outDir.toStdString();
    options.upTo = upTo.toStdString();
    options.threads = std::max(1, QThread::idealThreadCount());
    m_scene->clearRunStates();
    m_runKeys = qb::plannedCacheKeys(exp, m_model->registry());
    m_runKeysFinished.clear();
    m_finishedStates.clear();
    for (const auto &id : order)
        m_scene->setRunState(id, {NodeStatus::Pending, -1, {}});
    m_charts->clear();
    m_lastResults = nlohmann::json();
    QString error;
    if (!m_runner->start(exp, m_model->registry(), options, &error)) {
        showError(tr("Cannot run"), error);
        return false;
    }
    appendLog(upTo.isEmpty() ? tr("=== Run %1 ===").arg(QString::fromStdString(exp.name))
                             : tr("=== Run %1 up to %2 ===")
                                   .arg(QString::fromStdString(exp.name), upTo));
    updateRunActions();
    return true;
}

void MainWindow::cancelRun()
{
    if (!isRunning())
        return;
    m_runner->cancel();
    appendLog(tr("Cancel requested; the running node stops at its next step."));
    m_runLabel->setText(tr("Cancelling..."));
}

void MainWindow::onRunEvent(const qb::Event &e)
{
    using Kind = qb::Event::Kind;
    const QString node = QString::fromStdString(e.node);
    const QString message = QString::fromStdString(e.message);
    const QString stamp = QStringLiteral("[%1s] ").arg(e.time, 7, 'f', 2);
    switch (e.kind) {
    case Kind::RunStarted:
        appendLog(stamp + tr("run started"));
        break;
    case Kind::NodeStarted:
        m_scene->setRunState(e.node, {NodeStatus::Running, 0, {}});
        appendLog(stamp + tr("%1: started (%2)").arg(node, message));
        break;
    case Kind::Progress: {
        const double frac = e.total > 0 ? e.step / e.total : -1;
        m_scene->setRunState(e.node, {NodeStatus::Running, frac, message});
        m_runLabel->setText(tr("%1: %2 / %3 %4").arg(node).arg(e.step).arg(e.total).arg(message));
        break;
    }
    case Kind::Metric:
        // Metrics belong in the charts; the log keeps the nodes' messages (which already say
        // what matters, e.g. each evaluation's accuracy).
        m_charts->addEvent(e);
        break;
    case Kind::Log:
        appendLog(stamp + (node.isEmpty() ? message : node + ": " + message));
        break;
    case Kind::NodeCached:
        m_scene->setRunState(e.node, {NodeStatus::Cached, 1, {}});
        appendLog(stamp + tr("%1: cached").arg(node));
        break;
    case Kind::NodeFinished:
        m_scene->setRunState(e.node, {NodeStatus::Done, 1, {}});
        appendLog(stamp + tr("%1: done").arg(node));
        break;
    case Kind::NodeFailed:
        m_scene->setRunState(e.node, {NodeStatus::Failed, -1, message});
        appendLog(stamp + tr("%1: FAILED: %2").arg(node, message));
        break;
    case Kind::NodeCancelled:
        m_scene->setRunState(e.node, {NodeStatus::Cancelled, -1, {}});
        appendLog(stamp + tr("%1: cancelled").arg(node));
        break;
    case Kind::RunFinished:
        appendLog(stamp + tr("run finished: %1").arg(message));
        break;
    }
}

void MainWindow::onRunFinished(const qb::RunSummary &summary)
{
    // Nodes the run never reached go back to idle; one left running was interrupted.
    for (const auto &n : m_model->experiment().nodes) {
        const NodeRunState s = m_scene->runState(n.id);
        if (s.status == NodeStatus::Pending)
            m_scene->setRunState(n.id, {});
        else if (s.status == NodeStatus::Running)
            m_scene->setRunState(n.id, {summary.status == "failed" ? NodeStatus::Failed
                                                                  : NodeStatus::Cancelled,
                                        -1, QString::fromStdString(summary.error)});
    }
    for (const auto &n : m_model->experiment().nodes) {
        const NodeRunState s = m_scene->runState(n.id);
        if ((s.status == NodeStatus::Done || s.status == NodeStatus::Cached) && m_runKeys.count(n.id)) {
            m_runKeysFinished[n.id] = m_runKeys[n.id];
            m_finishedStates[n.id] = s;
        }
    }
    updateStaleNodes(); // edits made while the run went
    m_lastResults = summary.results;
    m_lastRunDir = QString::fromStdString(summary.runDir.string());
    m_charts->setResults(summary.results);
    const QString status = QString::fromStdString(summary.status);
    if (summary.status == "failed")
        appendLog(tr("Run failed: %1").arg(QString::fromStdString(summary.error)));
    appendLog(tr("Run %1; folder: %2").arg(status, m_lastRunDir));
    statusBar()->showMessage(tr("Run %1 — %2").arg(status, m_lastRunDir), 10000);
    updateRunActions();
    Q_EMIT runFinished(status);
    if (m_closeAfterRun)
        close();
}

void MainWindow::updateStaleNodes()
{
    if (m_finishedStates.empty() || isRunning())
        return;
    const auto now = qb::plannedCacheKeys(m_model->experiment(), m_model->registry());
    for (const auto &[id, state] : m_finishedStates) {
        if (!m_model->experiment().find(id))
            continue;
        auto it = now.find(id);
        const bool same = it != now.end() && it->second == m_runKeysFinished[id];
        m_scene->setRunState(id, same ? state : NodeRunState{NodeStatus::Stale, -1, {}});
    }
}

bool MainWindow::openRun(const QString &dir)
{
    const RunRecord run = loadRunFolder(dir);
    m_charts->loadRun(run);
    m_lastResults = run.results;
    m_lastRunDir = dir;
    appendLog(tr("Opened run %1: %2 events").arg(dir).arg(run.events.size()));
    for (const QString &p : run.problems)
        appendLog(QStringLiteral("  ") + p);
    if (!run.problems.isEmpty()) {
        showError(tr("Problems reading the run folder"), run.problems.join('\n'));
        return false;
    }
    statusBar()->showMessage(tr("Opened run %1").arg(dir), 6000);
    return true;
}

QStringList MainWindow::exportReport(const QString &dir)
{
    ReportInput input;
    input.title = tr("QuantBench report: %1")
                      .arg(QString::fromStdString(m_model->experiment().name));
    input.experimentYaml = currentExperimentYaml();
    input.results = m_lastResults;
    input.runDir = m_lastRunDir;
    const QStringList problems = writeReport(dir, *m_charts, input);
    appendLog(problems.isEmpty() ? tr("Report written to %1").arg(dir)
                                 : tr("Report to %1 with problems:\n%2")
                                       .arg(dir, problems.join('\n')));
    return problems;
}

} // namespace qbui
