#include "graph_scene.h"

#include "edge_item.h"

#include <QGraphicsSceneDragDropEvent>
#include <QGraphicsSceneMouseEvent>
#include <QKeyEvent>
#include <QMimeData>

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
    for (const auto &n : exp.nodes) {
        NodeItem *item = nodeItem(n.id);
        if (!item) {
            item = new NodeItem(n.id, n.type, m_model->registry().find(n.type));
            addItem(item);
            m_nodes[n.id] = item;
            connect(item, &NodeItem::moved, this, &GraphScene::updateEdges);
            if (auto s = m_runStates.find(n.id); s != m_runStates.end())
                item->setRunState(s->second);
        }
        item->setPos(m_model->position(n.id));
        auto p = m_model->problems().find(n.id);
        item->setProblems(p == m_model->problems().end() ? QStringList() : p->second);
    }
    for (const Edge &e : m_model->edges()) {
        if (!nodeItem(e.from) || !nodeItem(e.to))
            continue;
        auto *item = new EdgeItem(e);
        addItem(item);
        m_edges.push_back(item);
    }
    updateEdges();
    for (auto &[id, item] : m_nodes)
        item->setSelected(selected.count(id) > 0);
    m_syncing = false;
    const auto now = selectedNodeIds();
    Q_EMIT nodeSelectionChanged(now.size() == 1 ? QString::fromStdString(*now.begin())
                                                : QString());
}

void GraphScene::updateEdges()
{
    for (EdgeItem *e : m_edges)
        e->setEnds(nodeItem(e->edge().from)->outputPortPos(),
                   nodeItem(e->edge().to)->inputPortPos(e->edge().port));
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
}

NodeItem *GraphScene::nodeAt(QPointF scenePos) const
{
    for (QGraphicsItem *item : items(scenePos))
        if (auto *n = dynamic_cast<NodeItem *>(item))
            return n;
    // Port circles stick out of the node body by their radius.
    for (auto &[id, n] : m_nodes)
        if (n->sceneBoundingRect().contains(scenePos))
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
    if (!dynamic_cast<NodeItem *>(mouseGrabberItem()))
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
