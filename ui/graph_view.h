// GraphView: the node editor's view: wheel zooms around the cursor, the middle button (or
// Space + left button) pans, the left button rubber-band selects; a minimap in the lower right
// corner shows the whole graph when part of it is out of view; Esc cancels a connection or a
// move being dragged (before the window's Esc shortcut, which cancels a run). GUI thread only;
// does not own the scene.
#pragma once
#include <QGraphicsView>

namespace qbui {

class GraphOverview;

class GraphView : public QGraphicsView
{
    Q_OBJECT

public:
    explicit GraphView(QGraphicsScene *scene, QWidget *parent = nullptr);

    void zoomBy(double factor);
    void resetZoom();
    void fitNodes();
    GraphOverview *overview() const { return m_overview; }

Q_SIGNALS:
    void zoomChanged();

protected:
    bool event(QEvent *event) override;
    void wheelEvent(QWheelEvent *event) override;
    void mousePressEvent(QMouseEvent *event) override;
    void mouseMoveEvent(QMouseEvent *event) override;
    void mouseReleaseEvent(QMouseEvent *event) override;
    void keyPressEvent(QKeyEvent *event) override;
    void keyReleaseEvent(QKeyEvent *event) override;
    void drawBackground(QPainter *painter, const QRectF &rect) override;
    void resizeEvent(QResizeEvent *event) override;

private:
    bool m_panning = false;
    bool m_space = false;
    QPoint m_lastPan;
    GraphOverview *m_overview;
};

} // namespace qbui
