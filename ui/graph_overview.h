// GraphOverview: the minimap in the editor's corner. It shows the whole graph of the main view's
// scene scaled to fit, with the part the main view shows outlined; a click or drag in it moves
// the main view there. It hides itself while the main view shows the whole graph. Lives as a
// child of the GraphView it follows. GUI thread only; owns nothing but its refit timer.
#pragma once
#include <QGraphicsView>
#include <QTimer>

namespace qbui {

class GraphView;

class GraphOverview : public QGraphicsView
{
    Q_OBJECT

public:
    explicit GraphOverview(GraphView *main);

    // Fits the nodes into the minimap now (also done on every scene change, coalesced).
    void refit();
    // Hides the minimap while the main view shows every node.
    void updateVisibility();

protected:
    void drawForeground(QPainter *painter, const QRectF &rect) override;
    void mousePressEvent(QMouseEvent *event) override;
    void mouseMoveEvent(QMouseEvent *event) override;
    void wheelEvent(QWheelEvent *event) override;

private:
    QRectF nodesRect() const;

    GraphView *m_main;
    QTimer m_refit;
};

} // namespace qbui
