#include "edge_item.h"

#include <QPainter>
#include <QPainterPathStroker>

namespace qbui {

EdgeItem::EdgeItem(Edge edge) : m_edge(std::move(edge))
{
    setFlag(ItemIsSelectable);
    setZValue(0);
    setToolTip(QStringLiteral("%1 → %2.%3").arg(QString::fromStdString(m_edge.from),
                                                QString::fromStdString(m_edge.to),
                                                QString::fromStdString(m_edge.port)));
}

void EdgeItem::setCarried(const QString &type)
{
    setToolTip(QStringLiteral("%1 → %2.%3 (%4)").arg(QString::fromStdString(m_edge.from),
                                                     QString::fromStdString(m_edge.to),
                                                     QString::fromStdString(m_edge.port), type));
}

QPainterPath EdgeItem::curve(QPointF from, QPointF to)
{
    // Horizontal tangents at both ends read as "leaves right, enters left" even for back edges.
    const double dx = std::max(60.0, std::abs(to.x() - from.x()) * 0.5);
    QPainterPath path(from);
    path.cubicTo(from + QPointF(dx, 0), to - QPointF(dx, 0), to);
    return path;
}

void EdgeItem::setEnds(QPointF from, QPointF to)
{
    setPath(curve(from, to));
}

QPainterPath EdgeItem::shape() const
{
    QPainterPathStroker stroker;
    stroker.setWidth(10); // easier to click than the 2-pixel line
    return stroker.createStroke(path());
}

void EdgeItem::paint(QPainter *painter, const QStyleOptionGraphicsItem *, QWidget *)
{
    painter->setRenderHint(QPainter::Antialiasing);
    painter->setPen(QPen(isSelected() ? QColor(0xff, 0xc8, 0x3d) : QColor(0xa8, 0xb0, 0xbc),
                         isSelected() ? 3 : 2));
    painter->setBrush(Qt::NoBrush);
    painter->drawPath(path());
}

} // namespace qbui
