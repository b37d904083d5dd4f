#include "graph_scene.h"

#include "edge_item.h"
#include "group_item.h"

#include <QGraphicsSceneDragDropEvent>
#include <QGraphicsSceneMouseEvent>
#include <QKeyEvent>
#include <QMimeData>
#include <QUndoStack>

#include <algorithm>

namespace qbui {

GraphScene::GraphScene(GraphModel *model, QObject *parent)
    : QGraphicsScene(parent), m_model(model)
{
    setBackgroundBrush(QColor(0x1e, 0x21, 0x26));
    setSceneRect(-2000, -2000, 6000, 5000);
    connect(m_model, &GraphModel::changed, this, &GraphScene::sync);
    connect(this, &QGraphicsScene::selectionChanged, this, [this] {
        if (m_syncing)
            return;
        const auto ids = selectedNodeIds();
        Q_EMIT nodeSelectionChanged(ids.size() == 1 ? QString::fromStdString(*ids.begin())
                                                    : QString());
    });
    sync();
}

GraphScene::~GraphScene()
{
    // Deleting selected items emits selectionChanged; listeners (the inspector) may already be
    // half destroyed along with the window, so nothing is emitted from here on.
    blockSignals(true);
    m_edges.clear();
    m_groups.clear();
    m_nodes.clear();
    clear();
}

NodeItem *GraphScene::nodeItem(const std::string &id) const
{
    auto it = m_nodes.find(id);
    return it == m_nodes.end() ? nullptr : it->second;
}

void GraphScene::sync()
{
    m_syncing = true;
    const auto selected = selectedNodeIds();
    const auto selectedGroupIndices = selectedGroups();
    const qb::Experiment &exp = m_model->experiment();
    for (EdgeItem *e : m_edges)
        delete e;
    m_edges.clear();
    // Drop items whose node is gone or changed type; keep the others so selection survives.
    for (auto it = m_nodes.begin(); it != m_nodes.end();) {
        const qb::NodeDecl *n = exp.find(it->first);
        if (!n || it->second->spec() != m_model->registry().find(n->type)) {
            delete it->second;
            it = m_nodes.erase(it);
        } else {
            ++it;
        }
    }
    // Group items are kept by index (a toggle or a rename must not delete the item whose click
    // or editor caused it); extra ones go.
    while (m_groups.size() > exp.groups.size()) {
        delete m_groups.back();
        m_groups.pop_back();
    }
    while (m_groups.size() < exp.groups.size()) {
        auto *g = new GroupItem(int(m_groups.size()));
        addItem(g);
        m_groups.push_back(g);
        connect(g, &GroupItem::toggleRequested, this, [this](int i) {
            if (i < int(m_model->experiment().groups.size()))
                setGroupsCollapsed({i}, !m_model->experiment().groups[i].collapsed);
        });
        connect(g, &GroupItem::titleEdited, this, [this](int i, const QString &title) {
            m_model->setGroupTitle(i, title.toStdString());
        });
        connect(g, &GroupItem::dragged, this, &GraphScene::moveGroup);
    }
    std::map<std::string, int> collapsedIn;
    for (size_t i = 0; i < exp.groups.size(); ++i) {
        m_groups[i]->setGroup(exp.groups[i]);
        if (exp.groups[i].collapsed)
            for (const auto &id : exp.groups[i].nodes)
                collapsedIn[id] = int(i);
    }
    for (const auto &n : exp.nodes) {
        NodeItem *item = nodeItem(n.id);
        if (!item) {
            item = new NodeItem(n.id, n.type, m_model->registry().find(n.type));
            addItem(item);
            m_nodes[n.id] = item;
            connect(item, &NodeItem::moved, this, [this] {
                updateGroups();
                updateEdges();
            });
            if (auto s = m_runStates.find(n.id); s != m_runStates.end())
                item->setRunState(s->second);
        }
        item->setPos(m_model->position(n.id));
        item->setVisible(!collapsedIn.count(n.id));
        auto p = m_model->problems().find(n.id);
        item->setProblems(p == m_model->problems().end() ? QStringList() : p->second);
    }
    for (const Edge &e : m_model->edges()) {
        NodeItem *from = nodeItem(e.from);
        if (!from || !nodeItem(e.to))
            continue;
        auto *item = new EdgeItem(e);
        if (from->spec())
            item->setCarried(QString::fromStdString(from->spec()->outputType));
        // Inside one collapsed group: hidden with its ends.
        auto a = collapsedIn.find(e.from), b = collapsedIn.find(e.to);
        item->setVisible(!(a != collapsedIn.end() && b != collapsedIn.end()
                           && a->second == b->second));
        addItem(item);
        m_edges.push_back(item);
    }
    updateGroups();
    updateGroupStates();
    updateEdges();
    for (auto &[id, item] : m_nodes)
        item->setSelected(selected.count(id) > 0);
    for (int i : selectedGroupIndices)
        if (GroupItem *g = groupItem(i))
            g->setSelected(true);
    m_syncing = false;
    const auto now = selectedNodeIds();
    Q_EMIT nodeSelectionChanged(now.size() == 1 ? QString::fromStdString(*now.begin())
                                                : QString());
}

GroupItem *GraphScene::groupItem(int index) const
{
    return index >= 0 && index < int(m_groups.size()) ? m_groups[index] : nullptr;
}

// The collapsed group a node is hidden in, or -1.
static int hiddenIn(const std::vector<GroupItem *> &groups, const std::string &id)
{
    for (size_t i = 0; i < groups.size(); ++i)
        if (groups[i]->isCollapsed()
            && std::find(groups[i]->members().begin(), groups[i]->members().end(), id)
                   != groups[i]->members().end())
            return int(i);
    return -1;
}

void GraphScene::updateGroups()
{
    if (m_groups.empty())
        return;
    const auto edges = m_model->edges();
    for (size_t i = 0; i < m_groups.size(); ++i) {
        GroupItem *g = m_groups[i];
        QRectF box;
        for (const auto &id : g->members())
            if (NodeItem *n = nodeItem(id))
                box |= n->bodyRect().translated(n->pos());
        // Anchor slots of a collapsed box: one per outside source, one per member read outside.
        std::set<std::string> sources, feeders;
        if (g->isCollapsed())
            for (const Edge &e : edges) {
                const int from = hiddenIn(m_groups, e.from), to = hiddenIn(m_groups, e.to);
                if (to == int(i) && from != int(i))
                    sources.insert(from >= 0 ? "group:" + std::to_string(from) : e.from);
                if (from == int(i) && to != int(i))
                    feeders.insert(e.from);
            }
        g->setGeometry(box, int(sources.size()), int(feeders.size()));
    }
}

void GraphScene::updateGroupStates()
{
    for (GroupItem *g : m_groups) {
        std::vector<NodeRunState> states;
        for (const auto &id : g->members())
            states.push_back(runState(id));
        g->setStates(states);
    }
}

void GraphScene::moveGroup(int index, QPointF delta)
{
    GroupItem *g = groupItem(index);
    if (!g)
        return;
    for (const auto &id : g->members())
        if (NodeItem *n = nodeItem(id))
            n->setPos(n->pos() + delta);
    updateGroups();
    updateEdges();
}

void GraphScene::updateEdges()
{
    // Slot orders for the collapsed boxes' anchors, as updateGroups counted them (sorted keys).
    std::map<int, std::vector<std::string>> inKeys, outKeys;
    std::vector<std::pair<int, int>> ends(m_edges.size());
    std::vector<std::string> inKey(m_edges.size());
    for (size_t k = 0; k < m_edges.size(); ++k) {
        const Edge &e = m_edges[k]->edge();
        const int from = hiddenIn(m_groups, e.from), to = hiddenIn(m_groups, e.to);
        ends[k] = {from, to};
        inKey[k] = from >= 0 ? "group:" + std::to_string(from) : e.from;
        if (to >= 0 && from != to)
            inKeys[to].push_back(inKey[k]);
        if (from >= 0 && from != to)
            outKeys[from].push_back(e.from);
    }
    auto slot = [](std::vector<std::string> &keys, const std::string &key) {
        std::sort(keys.begin(), keys.end());
        keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
        return int(std::lower_bound(keys.begin(), keys.end(), key) - keys.begin());
    };
    for (size_t k = 0; k < m_edges.size(); ++k) {
        EdgeItem *item = m_edges[k];
        const Edge &e = item->edge();
        const auto [from, to] = ends[k];
        if (from >= 0 && from == to)
            continue; // hidden inside one collapsed group
        const QPointF a = from >= 0 ? m_groups[from]->outputAnchor(slot(outKeys[from], e.from))
                                    : nodeItem(e.from)->outputPortPos();
        const QPointF b = to >= 0 ? m_groups[to]->inputAnchor(slot(inKeys[to], inKey[k]))
                                  : nodeItem(e.to)->inputPortPos(e.port);
        item->setEnds(a, b);
    }
}

QRectF GraphScene::graphRect() const
{
    QRectF box;
    for (const auto &[id, n] : m_nodes)
        if (n->isVisible())
            box |= n->sceneBoundingRect();
    for (GroupItem *g : m_groups)
        box |= g->frameRect();
    return box;
}

std::set<int> GraphScene::selectedGroups() const
{
    std::set<int> out;
    for (QGraphicsItem *item : selectedItems())
        if (auto *g = dynamic_cast<GroupItem *>(item))
            out.insert(g->index());
    return out;
}

int GraphScene::groupSelection()
{
    std::set<std::string> ids = selectedNodeIds();
    for (int g : selectedGroups())
        for (const auto &id : m_groups[g]->members())
            ids.insert(id);
    if (ids.empty()) {
        Q_EMIT statusMessage(tr("Select the nodes to group first"));
        return -1;
    }
    std::set<std::string> titles;
    for (const auto &g : m_model->experiment().groups)
        titles.insert(g.title);
    std::string title;
    for (int n = int(m_model->experiment().groups.size()) + 1; title.empty() || titles.count(title);
         ++n)
        title = tr("Group %1").arg(n).toStdString();
    const int index = m_model->groupNodes(ids, title);
    if (GroupItem *g = groupItem(index)) {
        clearSelection();
        g->setSelected(true);
        Q_EMIT statusMessage(tr("Grouped %n node(s) as '%1'; double-click the title to rename it",
                                nullptr, int(ids.size()))
                                 .arg(QString::fromStdString(title)));
    }
    return index;
}

// Selected groups and the groups of selected nodes.
static std::set<int> targetGroups(const GraphScene &scene, const GraphModel &model)
{
    std::set<int> groups = scene.selectedGroups();
    for (const auto &id : scene.selectedNodeIds())
        if (const int g = model.groupOf(id); g >= 0)
            groups.insert(g);
    return groups;
}

bool GraphScene::ungroupSelection()
{
    const std::set<int> groups = targetGroups(*this, *m_model);
    if (groups.empty()) {
        Q_EMIT statusMessage(tr("Select a group (its title bar) or a node in one to ungroup"));
        return false;
    }
    m_model->ungroup(groups);
    return true;
}

bool GraphScene::toggleSelectedGroups()
{
    const std::set<int> groups = targetGroups(*this, *m_model);
    if (groups.empty()) {
        Q_EMIT statusMessage(tr("Select a group to collapse or expand"));
        return false;
    }
    bool allCollapsed = true;
    for (int g : groups)
        allCollapsed = allCollapsed && m_model->experiment().groups[g].collapsed;
    setGroupsCollapsed(groups, !allCollapsed);
    return true;
}

bool GraphScene::expandedGroupsCollide(const std::set<int> &groups) const
{
    for (int i : groups) {
        const GroupItem *g = groupItem(i);
        if (!g || g->isCollapsed())
            continue;
        const QRectF frame = g->frameRect();
        for (const auto &[id, n] : m_nodes)
            if (n->isVisible() && std::count(g->members().begin(), g->members().end(), id) == 0
                && frame.intersects(n->mapRectToScene(n->bodyRect())))
                return true;
        for (const GroupItem *other : m_groups)
            if (other != g && frame.intersects(other->frameRect()))
                return true;
    }
    return false;
}

void GraphScene::setGroupsCollapsed(const std::set<int> &groups, bool collapsed)
{
    // One undo step. Expanding restores the members' places; when the frame then covers other
    // nodes or frames (the group was laid out collapsed, in a box's room), the graph is laid out
    // again within the same step rather than left overlapping.
    const QString title = groups.size() == 1 && *groups.begin() < int(m_groups.size())
                              ? m_groups[*groups.begin()]->title()
                              : tr("groups");
    m_model->undoStack()->beginMacro(collapsed ? tr("Collapse %1").arg(title)
                                               : tr("Expand %1").arg(title));
    for (int g : groups)
        m_model->setGroupCollapsed(g, collapsed);
    if (!collapsed && expandedGroupsCollide(groups)) {
        m_model->autoLayout();
        Q_EMIT statusMessage(tr("Expanded %1 and laid the graph out again to make room").arg(title));
    }
    m_model->undoStack()->endMacro();
}

std::set<std::string> GraphScene::selectedNodeIds() const
{
    std::set<std::string> ids;
    for (QGraphicsItem *item : selectedItems())
        if (auto *n = dynamic_cast<NodeItem *>(item))
            ids.insert(n->nodeId());
    return ids;
}

std::vector<Edge> GraphScene::selectedEdges() const
{
    std::vector<Edge> edges;
    for (QGraphicsItem *item : selectedItems())
        if (auto *e = dynamic_cast<EdgeItem *>(item))
            edges.push_back(e->edge());
    return edges;
}

void GraphScene::selectNodes(const std::set<std::string> &ids)
{
    clearSelection();
    for (const auto &id : ids)
        if (NodeItem *n = nodeItem(id))
            n->setSelected(true);
}

void GraphScene::setRunState(const std::string &id, const NodeRunState &state)
{
    m_runStates[id] = state;
    if (NodeItem *n = nodeItem(id))
        n->setRunState(state);
    if (m_model->groupOf(id) >= 0)
        updateGroupStates();
}

NodeRunState GraphScene::runState(const std::string &id) const
{
    auto it = m_runStates.find(id);
    return it == m_runStates.end() ? NodeRunState() : it->second;
}

void GraphScene::clearRunStates()
{
    m_runStates.clear();
    for (auto &[id, item] : m_nodes)
        item->setRunState({});
    updateGroupStates();
}

NodeItem *GraphScene::nodeAt(QPointF scenePos) const
{
    for (QGraphicsItem *item : items(scenePos))
        if (auto *n = dynamic_cast<NodeItem *>(item); n && n->isVisible())
            return n;
    // Port circles stick out of the node body by their radius.
    for (auto &[id, n] : m_nodes)
        if (n->isVisible() && n->sceneBoundingRect().contains(scenePos))
            return n;
    return nullptr;
}

bool GraphScene::connectByGesture(const Edge &edge)
{
    const QString why = m_model->connectPorts(edge);
    if (why.isEmpty()) {
        Q_EMIT statusMessage(tr("Connected %1 → %2.%3")
                                 .arg(QString::fromStdString(edge.from),
                                      QString::fromStdString(edge.to),
                                      QString::fromStdString(edge.port)));
        return true;
    }
    Q_EMIT statusMessage(tr("Connection refused: %1").arg(why));
    return false;
}

bool GraphScene::gestureInProgress() const
{
    if (m_wire)
        return true;
    if (!dynamic_cast<NodeItem *>(mouseGrabberItem())
        && !dynamic_cast<GroupItem *>(mouseGrabberItem()))
        return false;
    for (const auto &[id, item] : m_nodes)
        if (item->pos() != m_model->position(id))
            return true;
    return false;
}

bool GraphScene::cancelGesture()
{
    if (m_wire) {
        delete m_wire;
        m_wire = nullptr;
        m_wireFrom.clear();
        Q_EMIT statusMessage(tr("Connection cancelled"));
        return true;
    }
    if (!gestureInProgress())
        return false;
    if (QGraphicsItem *grabber = mouseGrabberItem())
        grabber->ungrabMouse();
    for (const auto &[id, item] : m_nodes)
        item->setPos(m_model->position(id));
    Q_EMIT statusMessage(tr("Move cancelled"));
    return true;
}

void GraphScene::keyPressEvent(QKeyEvent *event)
{
    if (event->key() == Qt::Key_Escape && cancelGesture()) {
        event->accept();
        return;
    }
    QGraphicsScene::keyPressEvent(event);
}

void GraphScene::mousePressEvent(QGraphicsSceneMouseEvent *event)
{
    if (event->button() == Qt::LeftButton) {
        NodeItem *n = nodeAt(event->scenePos());
        if (n && n->outputPortAt(event->scenePos())) {
            m_wireFrom = n->nodeId();
            m_wire = addPath(EdgeItem::curve(n->outputPortPos(), event->scenePos()),
                             QPen(QColor(0xf0, 0xb4, 0x5a), 2, Qt::DashLine));
            m_wire->setZValue(2);
            event->accept();
            return;
        }
    }
    QGraphicsScene::mousePressEvent(event);
}

void GraphScene::mouseMoveEvent(QGraphicsSceneMouseEvent *event)
{
    if (m_wire) {
        m_wire->setPath(EdgeItem::curve(nodeItem(m_wireFrom)->outputPortPos(), event->scenePos()));
        return;
    }
    QGraphicsScene::mouseMoveEvent(event);
}

void GraphScene::mouseReleaseEvent(QGraphicsSceneMouseEvent *event)
{
    if (m_wire) {
        delete m_wire;
        m_wire = nullptr;
        const std::string from = std::exchange(m_wireFrom, {});
        NodeItem *target = nodeAt(event->scenePos());
        if (!target) {
            Q_EMIT statusMessage(tr("Drop the connection on an input port"));
            return;
        }
        std::string port = target->inputPortAt(event->scenePos());
        // Dropped on the node body: a node with a single input takes it there.
        if (port.empty() && target->spec() && target->spec()->inputs.size() == 1)
            port = target->spec()->inputs.front().name;
        if (port.empty()) {
            Q_EMIT statusMessage(target->spec() && target->spec()->inputs.empty()
                                     ? tr("Connection refused: '%1' has no inputs")
                                           .arg(QString::fromStdString(target->nodeId()))
                                     : tr("Drop the connection on an input port"));
            return;
        }
        connectByGesture({from, target->nodeId(), port});
        return;
    }
    QGraphicsScene::mouseReleaseEvent(event);
    // Items moved by the drag: record the new positions as one undoable step.
    std::map<std::string, QPointF> moved;
    for (auto &[id, item] : m_nodes)
        if (item->pos() != m_model->position(id))
            moved[id] = item->pos();
    if (!moved.empty())
        m_model->moveNodes(moved);
}

void GraphScene::dragEnterEvent(QGraphicsSceneDragDropEvent *event)
{
    event->setAccepted(event->mimeData()->hasFormat(kNodeMimeType));
}

void GraphScene::dragMoveEvent(QGraphicsSceneDragDropEvent *event)
{
    event->setAccepted(event->mimeData()->hasFormat(kNodeMimeType));
}

void GraphScene::dropEvent(QGraphicsSceneDragDropEvent *event)
{
    if (!event->mimeData()->hasFormat(kNodeMimeType))
        return;
    const std::string type = event->mimeData()->data(kNodeMimeType).toStdString();
    std::string id;
    const QString why = m_model->addNode(type, event->scenePos(), &id);
    if (!why.isEmpty()) {
        Q_EMIT statusMessage(why);
        return;
    }
    selectNodes({id});
    event->acceptProposedAction();
}

} // namespace qbui
