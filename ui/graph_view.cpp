#include "graph_view.h"

#include "graph_overview.h"
#include "graph_scene.h"
#include "node_item.h"

#include <QGraphicsTextItem>
#include <QKeyEvent>
#include <QScrollBar>
#include <QWheelEvent>

#include <cmath>

namespace qbui {

GraphView::GraphView(QGraphicsScene *scene, QWidget *parent)
    : QGraphicsView(scene, parent), m_overview(new GraphOverview(this))
{
    setRenderHint(QPainter::Antialiasing);
    setDragMode(RubberBandDrag);
    setTransformationAnchor(AnchorUnderMouse);
    setViewportUpdateMode(BoundingRectViewportUpdate);
    setAcceptDrops(true);
    m_overview->resize(200, 130);
}

void GraphView::resizeEvent(QResizeEvent *event)
{
    QGraphicsView::resizeEvent(event);
    const QRect vp = viewport()->geometry();
    m_overview->move(vp.right() - m_overview->width() - 8, vp.bottom() - m_overview->height() - 8);
    m_overview->raise();
    m_overview->updateVisibility();
}

void GraphView::zoomBy(double factor)
{
    const double current = transform().m11();
    const double target = std::clamp(current * factor, 0.2, 4.0);
    scale(target / current, target / current);
    Q_EMIT zoomChanged();
}

void GraphView::resetZoom()
{
    resetTransform();
    Q_EMIT zoomChanged();
}

void GraphView::fitNodes()
{
    auto *graph = qobject_cast<GraphScene *>(scene());
    const QRectF box = graph ? graph->graphRect() : scene()->itemsBoundingRect();
    if (box.isEmpty())
        return;
    fitInView(box.adjusted(-60, -60, 60, 60), Qt::KeepAspectRatio);
    if (transform().m11() > 1.2) // small graphs: don't blow them up
        zoomBy(1.2 / transform().m11());
    centerOn(box.center());
    Q_EMIT zoomChanged();
}

bool GraphView::event(QEvent *event)
{
    // While a group's title is being edited, every key is the editor's (Delete, Ctrl+A, Esc
    // would otherwise reach the window's shortcuts).
    if (event->type() == QEvent::ShortcutOverride && scene()
        && dynamic_cast<QGraphicsTextItem *>(scene()->focusItem())) {
        event->accept();
        return true;
    }
    // Esc is also the window's "cancel run" shortcut; while a drag is in progress it is the
    // drag's, so take it before the shortcut does.
    if (event->type() == QEvent::ShortcutOverride
        && static_cast<QKeyEvent *>(event)->key() == Qt::Key_Escape) {
        if (auto *s = qobject_cast<GraphScene *>(scene()); s && s->gestureInProgress()) {
            event->accept();
            return true;
        }
    }
    return QGraphicsView::event(event);
}

void GraphView::wheelEvent(QWheelEvent *event)
{
    zoomBy(std::pow(1.0015, event->angleDelta().y()));
    event->accept();
}

void GraphView::mousePressEvent(QMouseEvent *event)
{
    if (event->button() == Qt::MiddleButton
        || (event->button() == Qt::LeftButton && m_space)) {
        m_panning = true;
        m_lastPan = event->pos();
        viewport()->setCursor(Qt::ClosedHandCursor);
        event->accept();
        return;
    }
    QGraphicsView::mousePressEvent(event);
}

void GraphView::mouseMoveEvent(QMouseEvent *event)
{
    if (m_panning) {
        const QPoint d = event->pos() - m_lastPan;
        m_lastPan = event->pos();
        horizontalScrollBar()->setValue(horizontalScrollBar()->value() - d.x());
        verticalScrollBar()->setValue(verticalScrollBar()->value() - d.y());
        event->accept();
        return;
    }
    QGraphicsView::mouseMoveEvent(event);
}

void GraphView::mouseReleaseEvent(QMouseEvent *event)
{
    if (m_panning) {
        m_panning = false;
        viewport()->setCursor(m_space ? Qt::OpenHandCursor : Qt::ArrowCursor);
        event->accept();
        return;
    }
    QGraphicsView::mouseReleaseEvent(event);
}

void GraphView::keyPressEvent(QKeyEvent *event)
{
    if (event->key() == Qt::Key_Space && !event->isAutoRepeat()) {
        m_space = true;
        viewport()->setCursor(Qt::OpenHandCursor);
        return;
    }
    QGraphicsView::keyPressEvent(event);
}

void GraphView::keyReleaseEvent(QKeyEvent *event)
{
    if (event->key() == Qt::Key_Space && !event->isAutoRepeat()) {
        m_space = false;
        viewport()->setCursor(Qt::ArrowCursor);
        return;
    }
    QGraphicsView::keyReleaseEvent(event);
}

void GraphView::drawBackground(QPainter *painter, const QRectF &rect)
{
    QGraphicsView::drawBackground(painter, rect);
    // A faint grid helps judge alignment; skipped when zoomed far out where it turns to noise.
    if (transform().m11() < 0.4)
        return;
    const double step = 40;
    painter->setPen(QPen(QColor(0x2a, 0x2e, 0x35), 0));
    for (double x = std::floor(rect.left() / step) * step; x < rect.right(); x += step)
        painter->drawLine(QPointF(x, rect.top()), QPointF(x, rect.bottom()));
    for (double y = std::floor(rect.top() / step) * step; y < rect.bottom(); y += step)
        painter->drawLine(QPointF(rect.left(), y), QPointF(rect.right(), y));
}

} // namespace qbui
