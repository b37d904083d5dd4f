// NodeItem: draws one experiment node in the editor scene: a title bar with id and type, typed
// input ports on the left, the output port on the right, its run status (colour, progress bar)
// and validation problems (red border, tooltip). It holds no experiment data of its own beyond
// what it draws; GraphScene creates, updates and deletes it. GUI thread only.
#pragma once
#include "api/registry.h"

#include <QGraphicsObject>
#include <QColor>
#include <QStringList>

namespace qbui {

// Stale: finished in the last run, but an edit since (of it or of something upstream) means it
// would run again.
enum class NodeStatus { Idle, Pending, Running, Cached, Done, Failed, Cancelled, Stale };
QString toString(NodeStatus status);
QColor statusColor(NodeStatus status);

struct NodeRunState
{
    NodeStatus status = NodeStatus::Idle;
    double progress = -1; // 0..1 while running; < 0 when unknown
    QString message;      // progress text or the failure message
};

class NodeItem : public QGraphicsObject
{
    Q_OBJECT

public:
    static constexpr double kWidth = 200;
    static constexpr double kHeader = 28;
    static constexpr double kRow = 22;
    static constexpr double kPortRadius = 6;
    // Below this zoom, port names and the status line would be under ~7 px on screen: the node
    // draws its overview (id and state in a font kOverviewPixels tall on screen) instead.
    static constexpr double kDetailZoom = 0.7;
    static constexpr double kOverviewPixels = 12;
    static constexpr double kNoTextZoom = 0.25;

    NodeItem(std::string id, std::string type, const qb::NodeSpec *spec);

    const std::string &nodeId() const { return m_id; }
    const qb::NodeSpec *spec() const { return m_spec; }
    void setProblems(const QStringList &problems);
    void setRunState(const NodeRunState &state);
    const NodeRunState &runState() const { return m_state; }

    // Port positions in scene coordinates.
    QPointF inputPortPos(const std::string &port) const;
    QPointF outputPortPos() const;
    // The port under a scene point: output (returns true, port empty) or an input name.
    bool outputPortAt(QPointF scenePos) const;
    std::string inputPortAt(QPointF scenePos) const;

    // The node's body without the port circles that stick out, in item coordinates.
    QRectF bodyRect() const { return QRectF(0, 0, kWidth, height()); }
    QRectF boundingRect() const override;
    void paint(QPainter *painter, const QStyleOptionGraphicsItem *option,
               QWidget *widget) override;

Q_SIGNALS:
    void moved();

protected:
    QVariant itemChange(GraphicsItemChange change, const QVariant &value) override;

private:
    void updateToolTip();
    void paintOverview(QPainter *painter, double zoom, const QColor &accent) const;
    double height() const;
    QPointF localInputPos(int index) const;

    std::string m_id;
    std::string m_type;
    const qb::NodeSpec *m_spec;
    QStringList m_problems;
    NodeRunState m_state;
};

} // namespace qbui
