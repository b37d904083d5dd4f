// GraphScene: the node editor's scene. It mirrors a GraphModel (one NodeItem per node, one
// EdgeItem per connection, re-synced on every model change while keeping selection), turns mouse
// gestures into model edits (drag from an output port to an input port connects; moving nodes
// commits one undoable move on release; palette drops add nodes) and shows per-node run states.
// Groups are frames (GroupItem) around their members; a collapsed one hides its members and
// their inner edges, and the edges from outside end on its box. Refused edits are reported
// through statusMessage(). GUI thread only; the model is not owned.
#pragma once
#include "graph_model.h"
#include "node_item.h"

#include <QGraphicsScene>

#include <map>
#include <set>

namespace qbui {

class EdgeItem;
class GroupItem;

class GraphScene : public QGraphicsScene
{
    Q_OBJECT

public:
    static constexpr const char *kNodeMimeType = "application/x-quantbench-node-type";

    explicit GraphScene(GraphModel *model, QObject *parent = nullptr);
    ~GraphScene() override;

    GraphModel *model() const { return m_model; }
    NodeItem *nodeItem(const std::string &id) const;
    const std::vector<EdgeItem *> &edgeItems() const { return m_edges; }

    GroupItem *groupItem(int index) const;
    const std::vector<GroupItem *> &groupItems() const { return m_groups; }
    // Visible nodes and groups: what fitting the view or the minimap should show.
    QRectF graphRect() const;

    std::set<std::string> selectedNodeIds() const;
    std::set<int> selectedGroups() const;
    // Group the selected nodes (with the members of selected groups); returns the new group's
    // index or -1 (nothing selected). Ungroup removes the selected groups and those of the
    // selected nodes; toggle collapses/expands the selected groups (those of selected nodes).
    int groupSelection();
    bool ungroupSelection();
    bool toggleSelectedGroups();
    // Collapses or expands groups as one undo step; an expanded frame that would cover other
    // nodes or frames makes the graph laid out again in the same step.
    void setGroupsCollapsed(const std::set<int> &groups, bool collapsed);
    std::vector<Edge> selectedEdges() const;
    void selectNodes(const std::set<std::string> &ids);

    void setRunState(const std::string &id, const NodeRunState &state);
    NodeRunState runState(const std::string &id) const;
    void clearRunStates();

    // Tries a connection exactly as a mouse drag would; emits statusMessage on refusal.
    bool connectByGesture(const Edge &edge);

    // A connection or a node move is being dragged with the mouse.
    bool gestureInProgress() const;
    // Drops the connection being dragged, or puts dragged nodes back where they were (Esc);
    // returns whether there was anything to cancel.
    bool cancelGesture();

Q_SIGNALS:
    void statusMessage(const QString &text);
    void nodeSelectionChanged(const QString &nodeId); // empty: none or several

protected:
    void mousePressEvent(QGraphicsSceneMouseEvent *event) override;
    void mouseMoveEvent(QGraphicsSceneMouseEvent *event) override;
    void mouseReleaseEvent(QGraphicsSceneMouseEvent *event) override;
    void keyPressEvent(QKeyEvent *event) override;
    void dragEnterEvent(QGraphicsSceneDragDropEvent *event) override;
    void dragMoveEvent(QGraphicsSceneDragDropEvent *event) override;
    void dropEvent(QGraphicsSceneDragDropEvent *event) override;

private:
    void sync();
    void updateEdges();
    void updateGroups();
    void updateGroupStates();
    void moveGroup(int index, QPointF delta);
    bool expandedGroupsCollide(const std::set<int> &groups) const;
    NodeItem *nodeAt(QPointF scenePos) const;

    GraphModel *m_model;
    std::map<std::string, NodeItem *> m_nodes;
    std::vector<EdgeItem *> m_edges;
    std::vector<GroupItem *> m_groups;
    std::map<std::string, NodeRunState> m_runStates;
    QGraphicsPathItem *m_wire = nullptr; // the connection being dragged
    std::string m_wireFrom;
    bool m_syncing = false;
};

} // namespace qbui
