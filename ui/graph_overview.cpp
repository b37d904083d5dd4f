#include "graph_overview.h"

#include "graph_scene.h"
#include "graph_view.h"
#include "node_item.h"

#include <QMouseEvent>
#include <QScrollBar>

namespace qbui {

GraphOverview::GraphOverview(GraphView *main) : QGraphicsView(main->scene(), main), m_main(main)
{
    setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    setVerticalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    setInteractive(false); // clicks move the main view; they never select or drag nodes
    setRenderHint(QPainter::Antialiasing);
    setFrameShape(QFrame::Box);
    setToolTip(tr("Overview: click or drag to move the view"));
    setCursor(Qt::PointingHandCursor);
    m_refit.setSingleShot(true);
    m_refit.setInterval(150);
    connect(&m_refit, &QTimer::timeout, this, &GraphOverview::refit);
    connect(scene(), &QGraphicsScene::changed, this, [this] { m_refit.start(); });
    // The outline follows the main view's scrolling and zooming.
    auto outline = [this] {
        updateVisibility();
        viewport()->update();
    };
    connect(main->horizontalScrollBar(), &QScrollBar::valueChanged, this, outline);
    connect(main->verticalScrollBar(), &QScrollBar::valueChanged, this, outline);
    connect(main, &GraphView::zoomChanged, this, outline);
}

QRectF GraphOverview::nodesRect() const
{
    auto *graph = qobject_cast<GraphScene *>(scene());
    return graph ? graph->graphRect() : scene()->itemsBoundingRect();
}

void GraphOverview::refit()
{
    const QRectF box = nodesRect();
    if (!box.isEmpty())
        fitInView(box.adjusted(-40, -40, 40, 40), Qt::KeepAspectRatio);
    updateVisibility();
}

void GraphOverview::updateVisibility()
{
    // Shown only while part of the graph is out of the main view: when everything is in view
    // the map would only cover nodes.
    const QRectF box = nodesRect();
    const QRectF shown = m_main->mapToScene(m_main->viewport()->rect()).boundingRect();
    setVisible(!box.isEmpty() && !shown.contains(box));
}

void GraphOverview::drawForeground(QPainter *painter, const QRectF &)
{
    const QPolygonF shown = m_main->mapToScene(m_main->viewport()->rect());
    painter->setPen(QPen(QColor(0xff, 0xc8, 0x3d), 0));
    painter->setBrush(QColor(0xff, 0xc8, 0x3d, 40));
    painter->drawPolygon(shown);
}

void GraphOverview::mousePressEvent(QMouseEvent *event)
{
    m_main->centerOn(mapToScene(event->pos()));
    viewport()->update();
    event->accept();
}

void GraphOverview::mouseMoveEvent(QMouseEvent *event)
{
    if (event->buttons() & Qt::LeftButton)
        mousePressEvent(event);
}

void GraphOverview::wheelEvent(QWheelEvent *event)
{
    event->accept(); // the minimap keeps its fit; zoom belongs to the main view
}

} // namespace qbui
