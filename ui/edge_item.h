// EdgeItem: draws one connection as a curve from an output port to an input port; selectable so
// that it can be deleted. GraphScene owns it and moves its ends when nodes move. GUI thread only.
#pragma once
#include "graph_model.h"

#include <QGraphicsPathItem>

namespace qbui {

class EdgeItem : public QGraphicsPathItem
{
public:
    explicit EdgeItem(Edge edge);

    const Edge &edge() const { return m_edge; }
    // The type the connection carries (the source's output type), shown in the tooltip.
    void setCarried(const QString &type);
    void setEnds(QPointF from, QPointF to);
    static QPainterPath curve(QPointF from, QPointF to);

    void paint(QPainter *painter, const QStyleOptionGraphicsItem *option,
               QWidget *widget) override;
    QPainterPath shape() const override;

private:
    Edge m_edge;
};

} // namespace qbui
