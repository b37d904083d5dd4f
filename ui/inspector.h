// Inspector: edits the selected node (id and parameters) or, with no node selected, the
// experiment's name and seed. Editors are built from the node type's ParamSpecs — spin boxes with
// the spec's range for numbers, check boxes, combo boxes for enums, a line edit with a browse
// button for paths, comma-separated text for string lists, group boxes for objects — with the
// descriptions as tooltips. Every edit goes through GraphModel, so it is undoable. Each editor's
// objectName is "param:<key path>" (e.g. "param:decoding.max_new_tokens") for tests and focus
// restoring. GUI thread only; does not own the model.
#pragma once
#include "graph_model.h"

#include <QPointer>

#include <functional>
#include <QScrollArea>

class QFormLayout;

namespace qbui {

class Inspector : public QScrollArea
{
    Q_OBJECT

public:
    explicit Inspector(GraphModel *model, QWidget *parent = nullptr);

    QString nodeId() const { return m_nodeId; }

public Q_SLOTS:
    void showNode(const QString &nodeId);

Q_SIGNALS:
    void statusMessage(const QString &text);

private:
    void rebuild();
    void buildExperimentForm(QFormLayout *form);
    void addParamRows(QFormLayout *form, const std::vector<qb::ParamSpec> &specs,
                      const nlohmann::json &written, const nlohmann::json &resolved,
                      const std::vector<std::string> &path);
    QWidget *makeEditor(const qb::ParamSpec &spec, const nlohmann::json &value,
                        const std::vector<std::string> &path);
    void commit(const std::vector<std::string> &path, const nlohmann::json &value);
    // Runs a model edit made from one of our editors' signals: a selection change it causes
    // (the scene re-selects after every change) must not delete that editor under its signal.
    void editFromEditor(const std::function<void()> &edit);
    void addArithmeticRows(QFormLayout *form);
    void queueRebuild();

    GraphModel *m_model;
    QString m_nodeId;
    bool m_rebuildQueued = false;
    bool m_editing = false; // inside editFromEditor
};

} // namespace qbui
