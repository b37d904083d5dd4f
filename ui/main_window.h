// MainWindow: the workbench — node editor in the centre; palette, inspector, log and charts in
// docks; File (new/open/save/recent, open run, export report), the editor's right-click "Export
// model" of a finished model node (GGUF, GPTQ, AWQ; main_window_export.cpp), Edit (undo/redo, copy/paste,
// delete, group/ungroup/collapse, layout), Run (all, up to the selected node, cancel). It owns
// the GraphModel, the scene, the run controller and the charts, and is the boundary where core
// exceptions are caught and shown. Runs go to runs/<name>-<time> under the current folder with
// the user cache. Closing during a run cancels it and closes once the worker has stopped. GUI
// thread only.
#pragma once
#include "api/executor.h"
#include "node_item.h"

#include <QMainWindow>

#include <memory>

class QPlainTextEdit;
class QLabel;
class QMenu;

namespace qbui {

class ChartSet;
class GraphModel;
class GraphScene;
class GraphView;
class Inspector;
class RunController;

class MainWindow : public QMainWindow
{
    Q_OBJECT

public:
    explicit MainWindow(QWidget *parent = nullptr);
    ~MainWindow() override;

    // false: errors go to the status bar and log only, never to modal dialogs (tests, headless).
    void setInteractive(bool interactive) { m_interactive = interactive; }

    bool openFile(const QString &path);    // false on error (see lastError())
    bool saveFile(const QString &path);    // false on error
    void newExperiment();
    bool openRun(const QString &dir);      // re-draws the charts of a finished run
    QStringList exportReport(const QString &dir); // problems; empty on success

    // The model node `nodeId` produced in the last run (its folder under the run folder), or
    // empty when there is no run or the node's output is not a model.
    QString modelOutputOf(const QString &nodeId) const;
    // Writes that model for another tool (format gguf, gptq or awq; ggufType f32/f16/q8_0/q4_0)
    // to `out` on a worker thread, progress in the status bar; false when refused at once (see
    // lastError()). The outcome arrives as exportFinished and in the log.
    bool startModelExport(const QString &nodeId, const QString &format, const QString &ggufType,
                          const QString &out);
    bool isExporting() const { return m_exporting; }

    bool startRun(const QString &upTo = {}); // false when refused (see lastError())
    void cancelRun();
    bool isRunning() const;
    const qb::RunSummary &lastSummary() const;

    GraphModel *model() const { return m_model; }
    GraphScene *scene() const { return m_scene; }
    GraphView *view() const { return m_view; }
    ChartSet *charts() const { return m_charts.get(); }
    QString filePath() const { return m_filePath; }
    QString lastError() const { return m_lastError; }
    QString logText() const;
    NodeRunState nodeState(const QString &id) const;

Q_SIGNALS:
    void runFinished(const QString &status);
    void exportFinished(bool ok, const QString &message);

protected:
    void closeEvent(QCloseEvent *event) override;

private:
    void buildActions();
    void buildDocks();
    void updateTitle();
    void updateRunActions();
    bool maybeSave();
    void showError(const QString &title, const QString &text);
    void addRecentFile(const QString &path);
    void fillRecentMenu();
    void appendLog(const QString &line);
    void copySelection();
    void paste();
    void deleteSelection();
    void onRunEvent(const qb::Event &event);
    void onRunFinished(const qb::RunSummary &summary);
    // Marks finished nodes whose cache key changed since the run (an edit of theirs or upstream)
    // as stale, and restores them when an undo brings the key back.
    void updateStaleNodes();
    QString currentExperimentYaml() const;
    // The editor's "Export model" menu for the selected node: asks where (and the GGUF type).
    void exportSelectedModel(const QString &format);
    QString selectedNodeId() const; // the one selected node, else empty

    GraphModel *m_model;
    GraphScene *m_scene;
    GraphView *m_view;
    Inspector *m_inspector = nullptr;
    QPlainTextEdit *m_log = nullptr;
    std::unique_ptr<ChartSet> m_charts;
    RunController *m_runner;
    QMenu *m_recentMenu = nullptr;
    QMenu *m_viewMenu = nullptr;
    QAction *m_runAll = nullptr;
    QAction *m_runUpTo = nullptr;
    QAction *m_cancel = nullptr;
    QLabel *m_runLabel = nullptr;
    QString m_filePath;
    QString m_lastError;
    QString m_lastRunDir;
    nlohmann::json m_lastResults;
    std::map<std::string, std::string> m_runKeys;          // cache keys of the experiment run
    std::map<std::string, std::string> m_runKeysFinished;  // of the nodes that finished
    std::map<std::string, NodeRunState> m_finishedStates;  // their state at the end of the run
    bool m_interactive = true;
    bool m_exporting = false;
    bool m_closeAfterRun = false;
    int m_pasteCount = 0;
};

} // namespace qbui
