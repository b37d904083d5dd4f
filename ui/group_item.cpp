#include "group_item.h"

#include "graph_model.h"

#include <QGraphicsSceneMouseEvent>
#include <QGraphicsTextItem>
#include <QKeyEvent>
#include <QPainter>
#include <QStyleOptionGraphicsItem>
#include <QTextCursor>
#include <QTextDocument>

#include <algorithm>
#include <cmath>
#include <functional>

namespace qbui {

namespace {

constexpr double kRadius = 8;
constexpr double kAnchorPitch = 8; // collapsed box: room per edge anchor on a side
constexpr double kMaxGrowth = 24;  // ... up to this much taller than kCollapsedHeight

// Worst first: what a collapsed group must not hide.
int severity(NodeStatus s)
{
    switch (s) {
    case NodeStatus::Failed: return 7;
    case NodeStatus::Running: return 6;
    case NodeStatus::Cancelled: return 5;
    case NodeStatus::Stale: return 4;
    case NodeStatus::Pending: return 3;
    case NodeStatus::Done: return 2;
    case NodeStatus::Cached: return 1;
    case NodeStatus::Idle: return 0;
    }
    return 0;
}

// The inline title editor: Return or leaving it keeps the text, Esc drops it.
class TitleEditor : public QGraphicsTextItem
{
public:
    TitleEditor(const QString &text, QGraphicsItem *parent,
                std::function<void(const QString &, bool)> done)
        : QGraphicsTextItem(text, parent), m_done(std::move(done))
    {
        setTextInteractionFlags(Qt::TextEditorInteraction);
        setDefaultTextColor(Qt::white);
        document()->setDocumentMargin(2);
    }

    // The group is going away: its editor goes with it and reports nothing.
    void disarm() { m_finished = true; }

    void finish(bool keep)
    {
        if (m_finished)
            return;
        m_finished = true;
        const QString text = toPlainText().simplified();
        auto done = m_done;
        clearFocus(); // the view's keys go back to its shortcuts at once
        hide();
        deleteLater();
        done(text, keep);
    }

protected:
    void keyPressEvent(QKeyEvent *event) override
    {
        if (event->key() == Qt::Key_Return || event->key() == Qt::Key_Enter) {
            finish(true);
            return;
        }
        if (event->key() == Qt::Key_Escape) {
            finish(false);
            return;
        }
        QGraphicsTextItem::keyPressEvent(event);
    }
    void focusOutEvent(QFocusEvent *event) override
    {
        QGraphicsTextItem::focusOutEvent(event);
        finish(true);
    }

private:
    std::function<void(const QString &, bool)> m_done;
    bool m_finished = false;
};

} // namespace

GroupItem::GroupItem(int index) : m_index(index)
{
    setFlags(ItemIsSelectable);
    setAcceptHoverEvents(true);
}

GroupItem::~GroupItem()
{
    if (m_editor)
        static_cast<TitleEditor *>(m_editor)->disarm();
}

void GroupItem::setGroup(const qb::GroupDecl &group)
{
    const bool changed = m_collapsed != group.collapsed;
    if (changed)
        prepareGeometryChange();
    m_title = QString::fromStdString(group.title);
    m_members = group.nodes;
    m_collapsed = group.collapsed;
    // Expanded frames lie behind nodes but above edges, so that edges passing by never cross
    // out a title (the frame's fill is faint, edges show through it); a collapsed box stands
    // in for nodes.
    setZValue(m_collapsed ? 1 : 0.5);
    updateToolTip();
    update();
}

double GroupItem::boxHeight() const
{
    const int slots = std::max(m_inputSlots, m_outputSlots);
    return std::clamp(GroupFrame::kHeader + slots * kAnchorPitch + 8,
                      GroupFrame::kCollapsedHeight, GroupFrame::kCollapsedHeight + kMaxGrowth);
}

void GroupItem::setGeometry(const QRectF &membersBox, int inputSlots, int outputSlots)
{
    const QRectF frame = membersBox.adjusted(-GroupFrame::kPad, -GroupFrame::kHeader,
                                             GroupFrame::kPad, GroupFrame::kPad);
    m_inputSlots = inputSlots;
    m_outputSlots = outputSlots;
    const QSizeF size = m_collapsed ? QSizeF(GroupFrame::kCollapsedWidth, boxHeight())
                                    : frame.size();
    if (size != m_size) {
        prepareGeometryChange();
        m_size = size;
    }
    setPos(frame.topLeft());
    update();
}

QRectF GroupItem::frameRect() const
{
    return QRectF(pos(), m_size);
}

QPointF GroupItem::inputAnchor(int slot) const
{
    const double body = m_size.height() - GroupFrame::kHeader;
    const int n = std::max(1, m_inputSlots);
    return mapToScene(QPointF(0, GroupFrame::kHeader + body * (slot + 0.5) / n));
}

QPointF GroupItem::outputAnchor(int slot) const
{
    const double body = m_size.height() - GroupFrame::kHeader;
    const int n = std::max(1, m_outputSlots);
    return mapToScene(QPointF(m_size.width(), GroupFrame::kHeader + body * (slot + 0.5) / n));
}

void GroupItem::setStates(const std::vector<NodeRunState> &states)
{
    m_counts.clear();
    m_summary = NodeStatus::Idle;
    for (const auto &s : states) {
        ++m_counts[s.status];
        if (severity(s.status) > severity(m_summary))
            m_summary = s.status;
    }
    updateToolTip();
    update();
}

QString GroupItem::summaryText() const
{
    // Worst first, e.g. "1 failed · 2 running · 3 done".
    std::vector<std::pair<int, QString>> parts;
    for (const auto &[status, count] : m_counts)
        if (status != NodeStatus::Idle)
            parts.push_back({severity(status),
                             QStringLiteral("%1 %2").arg(count).arg(
                                 status == NodeStatus::Stale ? QStringLiteral("stale")
                                                             : toString(status))});
    std::sort(parts.begin(), parts.end(), [](const auto &a, const auto &b) { return a > b; });
    QStringList out;
    for (const auto &p : parts)
        out << p.second;
    return out.join(QStringLiteral(" · "));
}

void GroupItem::updateToolTip()
{
    QStringList ids;
    for (const auto &id : m_members)
        ids << QString::fromStdString(id);
    QString tip = QStringLiteral("<b>%1</b> (group of %2)<br>%3")
                      .arg(m_title.toHtmlEscaped())
                      .arg(m_members.size())
                      .arg(ids.join(QStringLiteral(", ")).toHtmlEscaped());
    const QString states = summaryText();
    if (!states.isEmpty())
        tip += QStringLiteral("<br>%1").arg(states);
    tip += m_collapsed ? tr("<br><i>Click ▸ or double-click the box to expand; drag to move; "
                            "double-click the title to rename</i>")
                       : tr("<br><i>Click ▾ to collapse; drag the title bar to move; "
                            "double-click the title to rename</i>");
    setToolTip(tip);
}

QRectF GroupItem::titleBarRect() const
{
    return QRectF(0, 0, m_size.width(), GroupFrame::kHeader);
}

QRectF GroupItem::toggleRect() const
{
    return QRectF(4, 4, GroupFrame::kHeader - 8, GroupFrame::kHeader - 8);
}

QRectF GroupItem::boundingRect() const
{
    const double m = NodeItem::kPortRadius + 2; // anchors stick out of a collapsed box
    return QRectF(QPointF(0, 0), m_size).adjusted(-m, -m, m, m);
}

QPainterPath GroupItem::shape() const
{
    // Expanded, only the title bar is the frame's own: clicks inside the frame fall through to
    // the nodes or start a rubber band, as if the frame were not there.
    QPainterPath path;
    path.addRoundedRect(m_collapsed ? QRectF(QPointF(0, 0), m_size) : titleBarRect(), kRadius,
                        kRadius);
    return path;
}

void GroupItem::paint(QPainter *painter, const QStyleOptionGraphicsItem *, QWidget *)
{
    painter->setRenderHint(QPainter::Antialiasing);
    const double zoom =
        QStyleOptionGraphicsItem::levelOfDetailFromTransform(painter->worldTransform());
    const QRectF all(QPointF(0, 0), m_size);
    const QColor frameColour(0x6c, 0x8e, 0xbf);
    const QColor accent = statusColor(m_summary);
    const QPen border(isSelected() ? QColor(0xff, 0xc8, 0x3d) : frameColour.darker(110),
                      (isSelected() ? 2.5 : 1.5) / std::min(1.0, zoom));

    // Body: translucent behind expanded members, solid for the collapsed box.
    painter->setPen(border);
    painter->setBrush(m_collapsed ? QColor(0x2b, 0x2f, 0x36) : QColor(0x6c, 0x8e, 0xbf, 38));
    painter->drawRoundedRect(all, kRadius, kRadius);
    QPainterPath bar;
    bar.addRoundedRect(titleBarRect(), kRadius, kRadius);
    bar.addRect(QRectF(0, GroupFrame::kHeader / 2, m_size.width(), GroupFrame::kHeader / 2));
    painter->setPen(Qt::NoPen);
    painter->setBrush(m_collapsed ? frameColour.darker(150) : frameColour.darker(170));
    painter->drawPath(bar.simplified());
    if (m_collapsed) {
        // The members' worst state as a stripe along the left edge of the body.
        painter->setBrush(accent);
        painter->drawRect(QRectF(0, GroupFrame::kHeader, 5, m_size.height() - GroupFrame::kHeader
                                                            - kRadius / 2));
        painter->setPen(border);
        painter->setBrush(Qt::NoBrush);
        painter->drawRoundedRect(all, kRadius, kRadius);
    }
    if (zoom < NodeItem::kNoTextZoom)
        return;

    // Toggle: ▸ collapsed, ▾ expanded.
    const QRectF t = toggleRect();
    painter->setPen(Qt::NoPen);
    painter->setBrush(QColor(0xe8, 0xec, 0xf2));
    QPolygonF tri;
    const QPointF c = t.center();
    const double r = t.width() * 0.28;
    if (m_collapsed)
        tri << c + QPointF(-r * 0.7, -r) << c + QPointF(r, 0) << c + QPointF(-r * 0.7, r);
    else
        tri << c + QPointF(-r, -r * 0.7) << c + QPointF(r, -r * 0.7) << c + QPointF(0, r);
    painter->drawPolygon(tri);

    // Title and count; zoomed out, in a font that stays legible on screen.
    QFont font = painter->font();
    font.setBold(true);
    if (zoom < NodeItem::kDetailZoom) // legible on screen, but inside the title bar
        font.setPixelSize(std::max(1, int(std::lround(std::min(NodeItem::kOverviewPixels / zoom,
                                                               GroupFrame::kHeader * 0.9)))));
    painter->setFont(font);
    const QFontMetricsF fm(font);
    const QString count = m_members.size() == 1 ? tr("1 node")
                                                : tr("%1 nodes").arg(m_members.size());
    // The count gives way to the title when both do not fit.
    const double room = m_size.width() - toggleRect().right() - 10;
    const double countWidth = m_collapsed || fm.horizontalAdvance(m_title)
                                                     + fm.horizontalAdvance(count) + 12 > room
                                  ? 0
                                  : fm.horizontalAdvance(count) + 12;
    const QRectF titleRect(t.right() + 4, 0, m_size.width() - t.right() - 10 - countWidth,
                           GroupFrame::kHeader);
    if (!m_editor) {
        painter->setPen(Qt::white);
        painter->drawText(titleRect, Qt::AlignVCenter | Qt::AlignLeft,
                          fm.elidedText(m_title, Qt::ElideRight, titleRect.width()));
    }
    font.setBold(false);
    painter->setFont(font);
    painter->setPen(QColor(0xc8, 0xd0, 0xdc));
    if (!m_collapsed) {
        if (countWidth > 0)
            painter->drawText(QRectF(m_size.width() - countWidth, 0, countWidth - 8,
                                     GroupFrame::kHeader),
                              Qt::AlignVCenter | Qt::AlignRight, count);
        return;
    }
    // Collapsed body: count, then the state summary.
    const QRectF body(12, GroupFrame::kHeader + 4, m_size.width() - 24,
                      m_size.height() - GroupFrame::kHeader - 8);
    const QString states = summaryText();
    if (zoom < NodeItem::kDetailZoom) // two lines must fit the body
        font.setPixelSize(std::max(1, std::min(font.pixelSize(), int(body.height() / 2.3))));
    painter->setFont(font);
    QStringList ids;
    for (const auto &id : m_members)
        ids << QString::fromStdString(id);
    const QFontMetricsF bodyFm(font);
    painter->drawText(body, Qt::AlignTop | Qt::AlignLeft,
                      bodyFm.elidedText(count + QStringLiteral(": ") + ids.join(QStringLiteral(", ")),
                                        Qt::ElideRight, body.width()));
    if (!states.isEmpty()) {
        painter->setPen(accent.lighter(140));
        painter->drawText(body, Qt::AlignBottom | Qt::AlignLeft,
                          bodyFm.elidedText(states, Qt::ElideRight, body.width()));
    }
    // Anchors where the outside edges meet the box.
    painter->setPen(QPen(QColor(0x15, 0x17, 0x1a), 1));
    painter->setBrush(QColor(0x7f, 0xb2, 0xe5));
    for (int i = 0; i < m_inputSlots; ++i)
        painter->drawEllipse(mapFromScene(inputAnchor(i)), 4, 4);
    painter->setBrush(QColor(0xf0, 0xb4, 0x5a));
    for (int i = 0; i < m_outputSlots; ++i)
        painter->drawEllipse(mapFromScene(outputAnchor(i)), 4, 4);
}

void GroupItem::mousePressEvent(QGraphicsSceneMouseEvent *event)
{
    if (event->button() == Qt::LeftButton && toggleRect().contains(event->pos())) {
        event->accept();
        Q_EMIT toggleRequested(m_index);
        return;
    }
    QGraphicsObject::mousePressEvent(event); // selection
    if (event->button() == Qt::LeftButton) {
        m_dragging = true;
        m_dragLast = event->scenePos();
        event->accept();
    }
}

void GroupItem::mouseMoveEvent(QGraphicsSceneMouseEvent *event)
{
    if (!m_dragging)
        return;
    const QPointF delta = event->scenePos() - m_dragLast;
    m_dragLast = event->scenePos();
    if (!delta.isNull())
        Q_EMIT dragged(m_index, delta);
}

void GroupItem::mouseReleaseEvent(QGraphicsSceneMouseEvent *event)
{
    m_dragging = false;
    QGraphicsObject::mouseReleaseEvent(event);
}

void GroupItem::mouseDoubleClickEvent(QGraphicsSceneMouseEvent *event)
{
    if (toggleRect().contains(event->pos())) {
        Q_EMIT toggleRequested(m_index); // the second click of a quick double toggle
        return;
    }
    if (titleBarRect().contains(event->pos())) {
        editTitle();
        return;
    }
    Q_EMIT toggleRequested(m_index); // the collapsed box's body opens it
}

void GroupItem::editTitle()
{
    if (m_editor)
        return;
    auto *editor = new TitleEditor(m_title, this, [this](const QString &text, bool keep) {
        m_editor = nullptr;
        update();
        if (keep && !text.isEmpty() && text != m_title)
            Q_EMIT titleEdited(m_index, text);
    });
    m_editor = editor;
    QFont font = editor->font();
    font.setBold(true);
    editor->setFont(font);
    editor->setPos(toggleRect().right() + 2, (GroupFrame::kHeader - editor->boundingRect().height())
                                                 / 2);
    editor->setTextWidth(std::max(60.0, m_size.width() - toggleRect().right() - 80));
    editor->setFocus(Qt::MouseFocusReason);
    QTextCursor all(editor->document());
    all.select(QTextCursor::Document);
    editor->setTextCursor(all);
    update();
}

} // namespace qbui
