// GraphModel: the editable experiment behind the node editor. It owns a qb::Experiment and an
// undo stack; every edit (add, delete, connect, disconnect, move, parameter change, paste, layout)
// is an undo command that swaps whole experiment snapshots, so undo restores exactly what was
// there. It checks connections before making them (port types, single ports, cycles) and keeps
// the validation diagnostics of the current state. It knows nothing of drawing: the scene and the
// inspector listen to changed(). GUI thread only; owns its undo stack.
#pragma once
#include "api/experiment.h"

#include <QObject>
#include <QPointF>
#include <QSizeF>
#include <QString>
#include <QStringList>
#include <QUndoStack>

#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace qbui {

// One connection: the output of `from` feeds input `port` of `to`.
struct Edge
{
    std::string from;
    std::string to;
    std::string port;
    bool operator==(const Edge &o) const { return from == o.from && to == o.to && port == o.port; }
    bool operator<(const Edge &o) const
    {
        return std::tie(from, to, port) < std::tie(o.from, o.to, o.port);
    }
};

// Geometry of a group's frame, shared by the layout (which leaves room for it) and the scene
// (which draws it): the frame is its members' bounding box grown by kPad, with a kHeader title
// bar; collapsed, it is one kCollapsedWidth × kCollapsedHeight box at the frame's top-left.
struct GroupFrame
{
    static constexpr double kPad = 16;
    static constexpr double kHeader = 34;
    static constexpr double kCollapsedWidth = 200;
    static constexpr double kCollapsedHeight = 78;
};

class GraphModel : public QObject
{
    Q_OBJECT

public:
    explicit GraphModel(const qb::NodeRegistry &registry, QObject *parent = nullptr);

    const qb::NodeRegistry &registry() const { return m_registry; }
    const qb::Experiment &experiment() const { return m_experiment; }
    QUndoStack *undoStack() { return &m_undo; }

    // Replaces the whole experiment (open, new): clears undo history and places nodes that have
    // no layout entry (every node, when most have none).
    void reset(const qb::Experiment &experiment);

    std::vector<Edge> edges() const;
    QPointF position(const std::string &id) const;
    // Diagnostics of the current state, grouped by node id ("" for experiment-wide problems).
    const std::map<std::string, QStringList> &problems() const { return m_problems; }

    // Edits. Each returns an empty string on success, else why it was refused (nothing changes).
    QString addNode(const std::string &type, QPointF pos, std::string *newId = nullptr);
    QString canConnect(const Edge &edge) const;
    QString connectPorts(const Edge &edge);
    void disconnectPorts(const Edge &edge);
    void removeItems(const std::set<std::string> &nodeIds, const std::vector<Edge> &edges);
    void moveNodes(const std::map<std::string, QPointF> &positions);
    // Sets params[path[0]][path[1]]...; a null value removes the key (back to the default).
    void setParam(const std::string &nodeId, const std::vector<std::string> &path,
                  const nlohmann::json &value);
    QString renameNode(const std::string &oldId, const std::string &newId);
    void setExperimentInfo(const std::string &name, uint64_t seed);
    void setArithmetic(const qb::ArithmeticDecl &arithmetic);
    // Groups: titled frames around nodes (experiment().groups, saved as `groups:`); a node is in
    // at most one. groupNodes frames the given nodes (taking them out of other groups, which
    // vanish when emptied) and returns the new group's index, or -1 with nothing to group.
    int groupOf(const std::string &id) const; // -1: in none
    int groupNodes(const std::set<std::string> &ids, const std::string &title);
    void ungroup(const std::set<int> &groups);
    void setGroupCollapsed(int group, bool collapsed);
    void setGroupTitle(int group, const std::string &title);

    // Places nodes in columns by their depth in the dependency order (layeredPositions).
    void autoLayout();
    // Columns by dependency depth, rows ordered to follow their inputs, tall columns wrapped.
    // A group is one block in the column of its members' median depth, its members laid out
    // inside it in columns by depth; a collapsed group takes only its box's room there (its
    // members keep their places inside; GraphScene lays out again when an expanded frame
    // would cover its neighbours).
    std::map<std::string, QPointF> layeredPositions(const qb::Experiment &exp) const;

    // Copy/paste: the selected nodes with the connections among them, as JSON text.
    std::string copyNodes(const std::set<std::string> &ids) const;
    // Adds the copied nodes under fresh ids, shifted by offset; returns the new ids.
    std::vector<std::string> pasteNodes(const std::string &clip, QPointF offset,
                                        QString *error = nullptr);

    // Used by the undo commands: installs a snapshot without touching the undo stack.
    void applySnapshot(const qb::Experiment &experiment);

Q_SIGNALS:
    void changed();

private:
    void commit(const qb::Experiment &after, const QString &text);
    std::string freshId(const std::string &type, const qb::Experiment &exp) const;
    void refreshProblems();

    const qb::NodeRegistry &m_registry;
    qb::Experiment m_experiment;
    QUndoStack m_undo;
    std::map<std::string, QStringList> m_problems;
};

} // namespace qbui
