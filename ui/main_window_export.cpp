// MainWindow: a finished model node's output written for other tools (GGUF for llama.cpp, Hugging
// Face GPTQ / AWQ folders) through api/model_export.h, on a worker thread.
#include "main_window.h"

#include "api/model_export.h"
#include "graph_scene.h"

#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFutureWatcher>
#include <QInputDialog>
#include <QPointer>
#include <QStatusBar>
#include <QtConcurrent>

#include <utility>

namespace qbui {

QString MainWindow::selectedNodeId() const
{
    const auto ids = m_scene->selectedNodeIds();
    return ids.size() == 1 ? QString::fromStdString(*ids.begin()) : QString();
}

QString MainWindow::modelOutputOf(const QString &nodeId) const
{
    if (m_lastRunDir.isEmpty() || nodeId.isEmpty())
        return {};
    // Model nodes (load, random, built-in, quantize, finetune, grpo) write a model folder, or a
    // PEFT adapter folder over their base.
    const QString dir = QDir(m_lastRunDir).filePath("nodes/" + nodeId);
    const bool model = QFileInfo::exists(dir + "/config.json")
        || QFileInfo::exists(dir + "/adapter_config.json");
    return model ? dir : QString();
}

bool MainWindow::startModelExport(const QString &nodeId, const QString &format,
                                  const QString &ggufType, const QString &out)
{
    if (m_exporting) {
        m_lastError = tr("An export is already running");
        return false;
    }
    const QString model = modelOutputOf(nodeId);
    if (model.isEmpty()) {
        m_lastError = m_lastRunDir.isEmpty()
            ? tr("Run the experiment first: node '%1' has no output yet").arg(nodeId)
            : tr("Node '%1' produced no model in the last run (%2)").arg(nodeId, m_lastRunDir);
        return false;
    }
    qb::ModelExportRequest request;
    request.format = format.toStdString();
    request.ggufType = ggufType.toStdString();
    request.model = model.toStdString();
    request.out = out.toStdString();
    // Progress from the worker reaches the status bar through the event loop.
    QPointer<MainWindow> self(this);
    request.progress = [self](int64_t done, int64_t total, const std::string &what) {
        QMetaObject::invokeMethod(
            self.data(),
            [self, done, total, name = QString::fromStdString(what)] {
                if (self)
                    self->statusBar()->showMessage(
                        tr("Exporting: %1/%2 %3").arg(done).arg(total).arg(name));
            },
            Qt::QueuedConnection);
    };
    m_exporting = true;
    appendLog(tr("Exporting %1 (%2) as %3 to %4")
                  .arg(nodeId, model, format == "gguf" ? "GGUF " + ggufType : format, out));
    auto *watcher = new QFutureWatcher<std::pair<bool, QString>>(this);
    connect(watcher, &QFutureWatcher<std::pair<bool, QString>>::finished, this, [this, watcher] {
        const auto [ok, message] = watcher->result();
        watcher->deleteLater();
        m_exporting = false;
        appendLog(ok ? tr("Exported %1").arg(message) : tr("Export failed: %1").arg(message));
        statusBar()->showMessage(ok ? tr("Export written") : tr("Export failed"), 8000);
        if (!ok)
            showError(tr("Export failed"), message);
        Q_EMIT exportFinished(ok, message);
    });
    watcher->setFuture(QtConcurrent::run([request]() -> std::pair<bool, QString> {
        try {
            return {true, QString::fromStdString(qb::exportModel(request))};
        } catch (const std::exception &e) {
            return {false, QString::fromStdString(e.what())};
        }
    }));
    return true;
}

void MainWindow::exportSelectedModel(const QString &format)
{
    const QString id = selectedNodeId();
    QString type = "q8_0";
    QString out;
    if (format == "gguf") {
        QStringList types;
        for (const auto &t : qb::ggufExportTypes())
            types << QString::fromStdString(t);
        bool ok = false;
        type = QInputDialog::getItem(this, tr("Export as GGUF"),
                                     tr("Linear weights of '%1' as:").arg(id), types,
                                     int(types.indexOf("q8_0")), false, &ok);
        if (!ok)
            return;
        out = QFileDialog::getSaveFileName(this, tr("Export as GGUF"),
                                           QDir::current().filePath(id + "-" + type + ".gguf"),
                                           tr("GGUF files (*.gguf)"));
    } else {
        out = QFileDialog::getSaveFileName(
            this, tr("Export as a Hugging Face %1 folder").arg(format.toUpper()),
            QDir::current().filePath(id + "-" + format), tr("Folders (*)"), nullptr,
            QFileDialog::ShowDirsOnly);
    }
    if (out.isEmpty())
        return;
    if (!startModelExport(id, format, type, out))
        showError(tr("Export"), m_lastError);
}

} // namespace qbui
