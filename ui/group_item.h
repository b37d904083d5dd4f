// GroupItem: draws one group of the node editor. Expanded, it is a titled frame around its member
// nodes (a title bar with a collapse toggle, the title and the node count; the frame behind the
// nodes, above the edges); collapsed, it is one compact box with the title, the node count and a summary of the
// members' run states, with anchors where edges from outside meet it. Dragging the title bar (or
// the collapsed box) asks the scene to move the members; the toggle and a double-click on the
// title (inline editing) ask for model edits through signals. It holds no experiment data beyond
// what it draws: GraphScene creates it, feeds it the group, its geometry and the members' states,
// and deletes it. GUI thread only.
#pragma once
#include "api/experiment.h"
#include "node_item.h"

#include <QGraphicsObject>

#include <map>
#include <string>
#include <vector>

namespace qbui {

class GroupItem : public QGraphicsObject
{
    Q_OBJECT

public:
    explicit GroupItem(int index);
    ~GroupItem() override;

    int index() const { return m_index; }
    void setGroup(const qb::GroupDecl &group);
    const std::vector<std::string> &members() const { return m_members; }
    bool isCollapsed() const { return m_collapsed; }
    QString title() const { return m_title; }

    // The members' bounding box (their bodies, scene coordinates) sets the frame; collapsed, the
    // box sits at the frame's top-left. inputSlots/outputSlots: how many distinct outside
    // sources feed the members, and how many members feed outside (anchors on the box's sides).
    void setGeometry(const QRectF &membersBox, int inputSlots, int outputSlots);
    QRectF frameRect() const; // scene coordinates of what is drawn (frame or box)
    QPointF inputAnchor(int slot) const;  // scene coordinates, collapsed box's left side
    QPointF outputAnchor(int slot) const; // right side

    // Worst-first summary of the members' states (failed, running, cancelled, stale, ...).
    void setStates(const std::vector<NodeRunState> &states);
    NodeStatus summaryStatus() const { return m_summary; }
    QString summaryText() const;

    // Title bar rectangle and its toggle button, in item coordinates.
    QRectF titleBarRect() const;
    QRectF toggleRect() const;
    // Opens the inline title editor (also on a double-click on the title).
    void editTitle();
    bool isEditingTitle() const { return m_editor != nullptr; }

    QRectF boundingRect() const override;
    QPainterPath shape() const override;
    void paint(QPainter *painter, const QStyleOptionGraphicsItem *option,
               QWidget *widget) override;

Q_SIGNALS:
    void toggleRequested(int index);
    void titleEdited(int index, const QString &title);
    void dragged(int index, QPointF delta);

protected:
    void mousePressEvent(QGraphicsSceneMouseEvent *event) override;
    void mouseMoveEvent(QGraphicsSceneMouseEvent *event) override;
    void mouseReleaseEvent(QGraphicsSceneMouseEvent *event) override;
    void mouseDoubleClickEvent(QGraphicsSceneMouseEvent *event) override;

private:
    void updateToolTip();
    double boxHeight() const;

    int m_index;
    QString m_title;
    std::vector<std::string> m_members;
    bool m_collapsed = false;
    QSizeF m_size;
    int m_inputSlots = 0;
    int m_outputSlots = 0;
    NodeStatus m_summary = NodeStatus::Idle;
    std::map<NodeStatus, int> m_counts;
    bool m_dragging = false;
    QPointF m_dragLast;
    QGraphicsTextItem *m_editor = nullptr;
};

} // namespace qbui
