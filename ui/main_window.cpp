#include "main_window.h"

#include "chart_set.h"
#include "graph_model.h"
#include "graph_scene.h"
#include "graph_view.h"
#include "group_item.h"
#include "inspector.h"
#include "node_palette.h"
#include "run_controller.h"

#include <QApplication>
#include <QClipboard>
#include <QCloseEvent>
#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QPlainTextEdit>
#include <QSettings>
#include <QStatusBar>
#include <QToolBar>

namespace qbui {

namespace {

constexpr const char *kNodesMime = "application/x-quantbench-nodes";
constexpr int kMaxRecent = 8;

qb::Experiment emptyExperiment()
{
    qb::Experiment e;
    e.name = "untitled";
    e.seed = 1234;
    return e;
}

} // namespace

MainWindow::MainWindow(QWidget *parent)
    : QMainWindow(parent), m_model(new GraphModel(qb::builtinRegistry(), this)),
      m_scene(new GraphScene(m_model, this)), m_view(new GraphView(m_scene, this)),
      m_runner(new RunController(this))
{
    setCentralWidget(m_view);
    m_charts = std::make_unique<ChartSet>(this);
    buildDocks();
    buildActions();
    m_runLabel = new QLabel;
    statusBar()->addPermanentWidget(m_runLabel);
    connect(m_scene, &GraphScene::statusMessage, this,
            [this](const QString &text) { statusBar()->showMessage(text, 8000); });
    connect(m_inspector, &Inspector::statusMessage, this,
            [this](const QString &text) { statusBar()->showMessage(text, 8000); });
    connect(m_scene, &GraphScene::nodeSelectionChanged, m_inspector, &Inspector::showNode);
    connect(m_model->undoStack(), &QUndoStack::cleanChanged, this, &MainWindow::updateTitle);
    connect(m_model, &GraphModel::changed, this, &MainWindow::updateTitle);
    connect(m_model, &GraphModel::changed, this, &MainWindow::updateStaleNodes);
    connect(m_runner, &RunController::eventReceived, this, &MainWindow::onRunEvent);
    connect(m_runner, &RunController::finished, this, &MainWindow::onRunFinished);
    m_model->reset(emptyExperiment());
    resize(1400, 900);
    updateTitle();
    updateRunActions();
}

MainWindow::~MainWindow()
{
    // The controller's destructor waits for the worker; cancel first so that is quick.
    m_runner->cancel();
}

void MainWindow::buildDocks()
{
    auto dock = [this](const QString &title, const QString &name, QWidget *w,
                       Qt::DockWidgetArea area) {
        auto *d = new QDockWidget(title, this);
        d->setObjectName(name);
        d->setWidget(w);
        addDockWidget(area, d);
        return d;
    };
    auto *palette = new NodePalette(m_model->registry());
    connect(palette, &NodePalette::addRequested, this, [this](const QString &type) {
        // Double-click: place the node at the centre of what is visible.
        const QPointF centre = m_view->mapToScene(m_view->viewport()->rect().center());
        std::string id;
        const QString why = m_model->addNode(type.toStdString(), centre - QPointF(100, 40), &id);
        if (why.isEmpty())
            m_scene->selectNodes({id});
        else
            statusBar()->showMessage(why, 8000);
    });
    dock(tr("Nodes"), "palette", palette, Qt::LeftDockWidgetArea);
    m_inspector = new Inspector(m_model);
    QDockWidget *inspectorDock = dock(tr("Inspector"), "inspector", m_inspector,
                                      Qt::RightDockWidgetArea);
    m_log = new QPlainTextEdit;
    m_log->setReadOnly(true);
    m_log->setMaximumBlockCount(20000);
    m_log->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    QDockWidget *logDock = dock(tr("Log"), "log", m_log, Qt::BottomDockWidgetArea);
    QDockWidget *first = nullptr;
    for (ChartWidget *c : m_charts->charts()) {
        QDockWidget *d = dock(c->title(), "chart_" + c->fileStem(), c, Qt::BottomDockWidgetArea);
        if (first)
            tabifyDockWidget(first, d);
        else
            splitDockWidget(logDock, d, Qt::Horizontal);
        first = first ? first : d;
    }
    tabifyDockWidget(first, dock(tr("Results"), "chart_results", m_charts->table(),
                                 Qt::BottomDockWidgetArea));
    tabifyDockWidget(first, dock(tr("Flips"), "flips", m_charts->flips(),
                                 Qt::BottomDockWidgetArea));
    first->raise();
    resizeDocks({logDock}, {300}, Qt::Vertical);
    // The log beside the charts: wide enough that a node's line does not wrap three times.
    resizeDocks({logDock, first}, {360, 1040}, Qt::Horizontal);
    resizeDocks({palette->parentWidget() ? qobject_cast<QDockWidget *>(palette->parentWidget())
                                         : inspectorDock,
                 inspectorDock},
                {200, 340}, Qt::Horizontal);
}

void MainWindow::buildActions()
{
    QMenu *file = menuBar()->addMenu(tr("&File"));
    file->addAction(tr("&New"), QKeySequence::New, this, [this] {
        if (maybeSave())
            newExperiment();
    });
    file->addAction(tr("&Open..."), QKeySequence::Open, this, [this] {
        if (!maybeSave())
            return;
        const QString path = QFileDialog::getOpenFileName(this, tr("Open experiment"), {},
                                                          tr("Experiments (*.yaml *.yml)"));
        if (!path.isEmpty())
            openFile(path);
    });
    m_recentMenu = file->addMenu(tr("Open &Recent"));
    connect(m_recentMenu, &QMenu::aboutToShow, this, &MainWindow::fillRecentMenu);
    file->addAction(tr("&Save"), QKeySequence::Save, this, [this] {
        QString path = m_filePath;
        if (path.isEmpty())
            path = QFileDialog::getSaveFileName(this, tr("Save experiment"), "untitled.yaml",
                                                tr("Experiments (*.yaml *.yml)"));
        if (!path.isEmpty())
            saveFile(path);
    });
    file->addAction(tr("Save &As..."), QKeySequence::SaveAs, this, [this] {
        const QString path = QFileDialog::getSaveFileName(this, tr("Save experiment"), m_filePath,
                                                          tr("Experiments (*.yaml *.yml)"));
        if (!path.isEmpty())
            saveFile(path);
    });
    file->addSeparator();
    file->addAction(tr("Open R&un Folder..."), this, [this] {
        const QString dir = QFileDialog::getExistingDirectory(this, tr("Open run folder"),
                                                              QStringLiteral("runs"));
        if (!dir.isEmpty())
            openRun(dir);
    });
    file->addAction(tr("&Export Report..."), this, [this] {
        const QString dir = QFileDialog::getExistingDirectory(this, tr("Export report into"));
        if (dir.isEmpty())
            return;
        const QStringList problems = exportReport(dir);
        if (problems.isEmpty())
            statusBar()->showMessage(tr("Report written to %1").arg(dir), 8000);
        else
            showError(tr("Report export"), problems.join('\n'));
    });
    file->addSeparator();
    file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);

    QMenu *edit = menuBar()->addMenu(tr("&Edit"));
    QAction *undo = m_model->undoStack()->createUndoAction(this, tr("&Undo"));
    undo->setShortcut(QKeySequence::Undo);
    QAction *redo = m_model->undoStack()->createRedoAction(this, tr("&Redo"));
    redo->setShortcut(QKeySequence::Redo);
    edit->addAction(undo);
    edit->addAction(redo);
    edit->addSeparator();
    // Scoped to the editor so that Delete/Ctrl+C in text fields and the log keep their meaning.
    auto editorAction = [this, edit](const QString &text, QKeySequence key, auto slot) {
        QAction *a = edit->addAction(text, this, slot);
        a->setShortcut(key);
        a->setShortcutContext(Qt::WidgetWithChildrenShortcut);
        m_view->addAction(a);
        return a;
    };
    editorAction(tr("&Copy"), QKeySequence::Copy, [this] { copySelection(); });
    editorAction(tr("Cu&t"), QKeySequence::Cut, [this] {
        copySelection();
        deleteSelection();
    });
    editorAction(tr("&Paste"), QKeySequence::Paste, [this] { paste(); });
    editorAction(tr("&Delete"), QKeySequence::Delete, [this] { deleteSelection(); });
    editorAction(tr("Select &All"), QKeySequence::SelectAll, [this] {
        for (QGraphicsItem *item : m_scene->items())
            item->setSelected(true);
    });
    edit->addSeparator();
    QAction *group = editorAction(tr("&Group"), QKeySequence(Qt::CTRL | Qt::Key_G),
                                  [this] { m_scene->groupSelection(); });
    QAction *ungroup = editorAction(tr("U&ngroup"), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_G),
                                    [this] { m_scene->ungroupSelection(); });
    QAction *toggle = editorAction(tr("Collapse/E&xpand Group"), QKeySequence(Qt::CTRL | Qt::Key_E),
                                   [this] { m_scene->toggleSelectedGroups(); });
    QAction *rename = editorAction(tr("Rena&me Group"), QKeySequence(Qt::Key_F2), [this] {
        const auto groups = m_scene->selectedGroups();
        if (groups.size() == 1)
            m_scene->groupItem(*groups.begin())->editTitle();
        else
            statusBar()->showMessage(tr("Select one group (its title bar) to rename"), 6000);
    });
    edit->addSeparator();
    QAction *layout = edit->addAction(tr("Automatic &Layout"), QKeySequence(Qt::CTRL | Qt::Key_L),
                                      this, [this] {
                                          m_model->autoLayout();
                                          m_view->fitNodes();
                                      });
    // Right-click in the editor: what applies to the item under the cursor (selected first if
    // it was not) and the selection.
    m_view->setContextMenuPolicy(Qt::CustomContextMenu);
    connect(m_view, &QWidget::customContextMenuRequested, this,
            [=](const QPoint &pos) {
                QGraphicsItem *under = m_view->itemAt(pos);
                while (under && !under->isSelected() && !(under->flags()
                                                           & QGraphicsItem::ItemIsSelectable))
                    under = under->parentItem();
                if (under && !under->isSelected()) {
                    m_scene->clearSelection();
                    under->setSelected(true);
                }
                QMenu menu(this);
                for (QAction *a : {group, ungroup, toggle, rename})
                    menu.addAction(a);
                menu.addSeparator();
                for (QAction *a : m_view->actions())
                    if (a != group && a != ungroup && a != toggle && a != rename)
                        menu.addAction(a);
                menu.addSeparator();
                menu.addAction(layout);
                // A finished model node: its output written for other tools.
                if (const QString id = selectedNodeId(); !modelOutputOf(id).isEmpty()) {
                    QMenu *exportMenu = menu.addMenu(tr("Export Model"));
                    exportMenu->setEnabled(!m_exporting);
                    exportMenu->addAction(tr("As GGUF for llama.cpp..."), this,
                                          [this] { exportSelectedModel("gguf"); });
                    exportMenu->addAction(tr("As a Hugging Face GPTQ Folder..."), this,
                                          [this] { exportSelectedModel("gptq"); });
                    exportMenu->addAction(tr("As a Hugging Face AWQ Folder..."), this,
                                          [this] { exportSelectedModel("awq"); });
                }
                menu.exec(m_view->viewport()->mapToGlobal(pos));
            });

    m_viewMenu = menuBar()->addMenu(tr("&View"));
    m_viewMenu->addAction(tr("Zoom &In"), QKeySequence::ZoomIn, this,
                          [this] { m_view->zoomBy(1.25); });
    m_viewMenu->addAction(tr("Zoom &Out"), QKeySequence::ZoomOut, this,
                          [this] { m_view->zoomBy(0.8); });
    m_viewMenu->addAction(tr("&Fit Graph"), QKeySequence(Qt::CTRL | Qt::Key_0), this,
                          [this] { m_view->fitNodes(); });
    m_viewMenu->addSeparator();
    for (QDockWidget *d : findChildren<QDockWidget *>())
        m_viewMenu->addAction(d->toggleViewAction());

    QMenu *run = menuBar()->addMenu(tr("&Run"));
    m_runAll = run->addAction(tr("Run &All"), QKeySequence(Qt::CTRL | Qt::Key_R), this,
                              [this] { startRun(); });
    m_runAll->setShortcuts({QKeySequence(Qt::Key_F5), QKeySequence(Qt::CTRL | Qt::Key_R)});
    m_runUpTo = run->addAction(tr("Run &Up To Selected"), QKeySequence(Qt::CTRL | Qt::SHIFT
                                                                       | Qt::Key_R),
                               this, [this] {
                                   const auto ids = m_scene->selectedNodeIds();
                                   if (ids.size() != 1) {
                                       statusBar()->showMessage(tr("Select one node first"), 6000);
                                       return;
                                   }
                                   startRun(QString::fromStdString(*ids.begin()));
                               });
    m_cancel = run->addAction(tr("&Cancel"), QKeySequence(Qt::Key_Escape), this,
                              [this] { cancelRun(); });

    QToolBar *bar = addToolBar(tr("Main"));
    bar->setObjectName("mainToolBar");
    bar->addAction(undo);
    bar->addAction(redo);
    bar->addSeparator();
    bar->addAction(m_runAll);
    bar->addAction(m_runUpTo);
    bar->addAction(m_cancel);
}

void MainWindow::updateTitle()
{
    const QString name = m_filePath.isEmpty() ? QString::fromStdString(m_model->experiment().name)
                                              : QFileInfo(m_filePath).fileName();
    setWindowTitle(tr("%1[*] — QuantBench").arg(name));
    setWindowModified(!m_model->undoStack()->isClean());
}

void MainWindow::showError(const QString &title, const QString &text)
{
    m_lastError = text;
    appendLog(title + ": " + text);
    statusBar()->showMessage(title + ": " + text.section('\n', 0, 0), 10000);
    if (m_interactive)
        QMessageBox::critical(this, title, text);
}

bool MainWindow::maybeSave()
{
    if (m_model->undoStack()->isClean() || !m_interactive)
        return true;
    const auto answer = QMessageBox::question(
        this, tr("Unsaved changes"), tr("The experiment has unsaved changes. Save them?"),
        QMessageBox::Save | QMessageBox::Discard | QMessageBox::Cancel, QMessageBox::Save);
    if (answer == QMessageBox::Cancel)
        return false;
    if (answer == QMessageBox::Discard)
        return true;
    QString path = m_filePath;
    if (path.isEmpty())
        path = QFileDialog::getSaveFileName(this, tr("Save experiment"), "untitled.yaml",
                                            tr("Experiments (*.yaml *.yml)"));
    return !path.isEmpty() && saveFile(path);
}

void MainWindow::newExperiment()
{
    m_filePath.clear();
    m_finishedStates.clear();
    m_model->reset(emptyExperiment());
    m_scene->clearRunStates();
    updateTitle();
}

bool MainWindow::openFile(const QString &path)
{
    try {
        const qb::Experiment exp = qb::loadExperiment(path.toStdString(), m_model->registry());
        m_filePath = QFileInfo(path).absoluteFilePath();
        m_finishedStates.clear();
        m_scene->clearRunStates();
        m_model->reset(exp);
        addRecentFile(m_filePath);
        updateTitle();
        m_view->fitNodes();
        statusBar()->showMessage(tr("Opened %1").arg(path), 5000);
        return true;
    } catch (const std::exception &e) {
        showError(tr("Cannot open experiment"), QString::fromUtf8(e.what()));
        return false;
    }
}

bool MainWindow::saveFile(const QString &path)
{
    try {
        qb::saveExperiment(m_model->experiment(), path.toStdString());
        m_filePath = QFileInfo(path).absoluteFilePath();
        m_model->undoStack()->setClean();
        addRecentFile(m_filePath);
        updateTitle();
        statusBar()->showMessage(tr("Saved %1").arg(path), 5000);
        return true;
    } catch (const std::exception &e) {
        showError(tr("Cannot save experiment"), QString::fromUtf8(e.what()));
        return false;
    }
}

void MainWindow::addRecentFile(const QString &path)
{
    QSettings settings;
    QStringList files = settings.value(QStringLiteral("recentFiles")).toStringList();
    files.removeAll(path);
    files.prepend(path);
    while (files.size() > kMaxRecent)
        files.removeLast();
    settings.setValue(QStringLiteral("recentFiles"), files);
}

void MainWindow::fillRecentMenu()
{
    m_recentMenu->clear();
    const QStringList files = QSettings().value(QStringLiteral("recentFiles")).toStringList();
    for (const QString &f : files)
        m_recentMenu->addAction(QFileInfo(f).fileName() + "  (" + f + ")", this, [this, f] {
            if (maybeSave())
                openFile(f);
        });
    if (files.isEmpty())
        m_recentMenu->addAction(tr("(none)"))->setEnabled(false);
}

void MainWindow::copySelection()
{
    const auto ids = m_scene->selectedNodeIds();
    if (ids.empty())
        return;
    auto *data = new QMimeData;
    const QByteArray json = QByteArray::fromStdString(m_model->copyNodes(ids));
    data->setData(kNodesMime, json);
    data->setText(QString::fromUtf8(json));
    QApplication::clipboard()->setMimeData(data);
    m_pasteCount = 0;
}

void MainWindow::paste()
{
    const QMimeData *data = QApplication::clipboard()->mimeData();
    if (!data)
        return;
    const QByteArray json = data->hasFormat(kNodesMime) ? data->data(kNodesMime)
                                                        : data->text().toUtf8();
    QString error;
    const double shift = 40.0 * ++m_pasteCount; // repeated pastes fan out instead of stacking
    const auto ids = m_model->pasteNodes(json.toStdString(), QPointF(shift, shift), &error);
    if (!error.isEmpty()) {
        statusBar()->showMessage(error, 8000);
        return;
    }
    m_scene->selectNodes(std::set<std::string>(ids.begin(), ids.end()));
}

void MainWindow::deleteSelection()
{
    // A selected group goes with its nodes (Ungroup removes only the frame).
    std::set<std::string> ids = m_scene->selectedNodeIds();
    for (int g : m_scene->selectedGroups())
        for (const auto &id : m_model->experiment().groups[g].nodes)
            ids.insert(id);
    m_model->removeItems(ids, m_scene->selectedEdges());
}

void MainWindow::appendLog(const QString &line)
{
    m_log->appendPlainText(line);
}

QString MainWindow::logText() const
{
    return m_log->toPlainText();
}

NodeRunState MainWindow::nodeState(const QString &id) const
{
    return m_scene->runState(id.toStdString());
}

QString MainWindow::currentExperimentYaml() const
{
    try {
        return QString::fromStdString(qb::toYaml(m_model->experiment()));
    } catch (const std::exception &) {
        return {};
    }
}

void MainWindow::closeEvent(QCloseEvent *event)
{
    if (isRunning()) {
        if (!m_closeAfterRun && !maybeSave()) {
            event->ignore();
            return;
        }
        // Never block the GUI thread: cancel, and close once the worker reports back.
        m_closeAfterRun = true;
        cancelRun();
        statusBar()->showMessage(tr("Cancelling the run before closing..."));
        event->ignore();
        return;
    }
    if (!m_closeAfterRun && !maybeSave()) {
        event->ignore();
        return;
    }
    event->accept();
}

} // namespace qbui
