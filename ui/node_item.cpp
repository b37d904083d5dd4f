#include "node_item.h"

#include <QPainter>
#include <QStyleOptionGraphicsItem>

#include <cmath>

namespace qbui {

QString toString(NodeStatus status)
{
    switch (status) {
    case NodeStatus::Idle: return QStringLiteral("idle");
    case NodeStatus::Pending: return QStringLiteral("pending");
    case NodeStatus::Running: return QStringLiteral("running");
    case NodeStatus::Cached: return QStringLiteral("cached");
    case NodeStatus::Done: return QStringLiteral("done");
    case NodeStatus::Failed: return QStringLiteral("failed");
    case NodeStatus::Cancelled: return QStringLiteral("cancelled");
    case NodeStatus::Stale: return QStringLiteral("stale (will re-run)");
    }
    return {};
}

QColor statusColor(NodeStatus status)
{
    switch (status) {
    case NodeStatus::Idle: return QColor(0x5a, 0x62, 0x70);
    case NodeStatus::Pending: return QColor(0x8a, 0x8f, 0x98);
    case NodeStatus::Running: return QColor(0x2f, 0x7d, 0xd1);
    case NodeStatus::Cached: return QColor(0x3a, 0x9d, 0x8f);
    case NodeStatus::Done: return QColor(0x3c, 0x9a, 0x4a);
    case NodeStatus::Failed: return QColor(0xc6, 0x3b, 0x3b);
    case NodeStatus::Cancelled: return QColor(0xc0, 0x8a, 0x2a);
    case NodeStatus::Stale: return QColor(0x9a, 0x8c, 0x3c);
    }
    return Qt::gray;
}

NodeItem::NodeItem(std::string id, std::string type, const qb::NodeSpec *spec)
    : m_id(std::move(id)), m_type(std::move(type)), m_spec(spec)
{
    setFlags(ItemIsMovable | ItemIsSelectable | ItemSendsScenePositionChanges);
    setZValue(1);
    updateToolTip();
}

double NodeItem::height() const
{
    const int rows = m_spec ? std::max<int>(1, int(m_spec->inputs.size())) : 1;
    return kHeader + rows * kRow + 18; // 18: status line / progress bar
}

QRectF NodeItem::boundingRect() const
{
    const double m = kPortRadius + 2;
    return QRectF(-m, -m, kWidth + 2 * m, height() + 2 * m);
}

QPointF NodeItem::localInputPos(int index) const
{
    return QPointF(0, kHeader + kRow * (index + 0.5));
}

QPointF NodeItem::inputPortPos(const std::string &port) const
{
    if (m_spec)
        for (size_t i = 0; i < m_spec->inputs.size(); ++i)
            if (m_spec->inputs[i].name == port)
                return mapToScene(localInputPos(int(i)));
    return mapToScene(QPointF(0, kHeader / 2));
}

QPointF NodeItem::outputPortPos() const
{
    return mapToScene(QPointF(kWidth, kHeader + kRow * 0.5));
}

bool NodeItem::outputPortAt(QPointF scenePos) const
{
    if (!m_spec || m_spec->outputType.empty())
        return false;
    return QLineF(scenePos, outputPortPos()).length() <= kPortRadius + 4;
}

std::string NodeItem::inputPortAt(QPointF scenePos) const
{
    if (!m_spec)
        return {};
    // Generous hit area: the whole row counts, so dropping a wire on the node's left half works.
    const QPointF local = mapFromScene(scenePos);
    for (size_t i = 0; i < m_spec->inputs.size(); ++i) {
        const QPointF p = localInputPos(int(i));
        if (local.x() >= -kPortRadius - 4 && local.x() <= kWidth / 2
            && std::abs(local.y() - p.y()) <= kRow / 2)
            return m_spec->inputs[i].name;
    }
    return {};
}

void NodeItem::setProblems(const QStringList &problems)
{
    if (problems == m_problems)
        return;
    m_problems = problems;
    updateToolTip();
    update();
}

void NodeItem::setRunState(const NodeRunState &state)
{
    m_state = state;
    updateToolTip();
    update();
}

void NodeItem::updateToolTip()
{
    QString tip = QStringLiteral("<b>%1</b> (%2)").arg(QString::fromStdString(m_id),
                                                        QString::fromStdString(m_type));
    if (m_spec && !m_spec->description.empty())
        tip += QStringLiteral("<br>") + QString::fromStdString(m_spec->description).toHtmlEscaped();
    if (m_spec) {
        // What each port carries, so a refused connection is no surprise.
        for (const auto &port : m_spec->inputs)
            tip += QStringLiteral("<br>in <i>%1</i>: %2%3%4")
                       .arg(QString::fromStdString(port.name),
                            QString::fromStdString(port.type),
                            port.multiple ? QStringLiteral(" (several)") : QString(),
                            port.optional ? QStringLiteral(", optional") : QString());
        if (!m_spec->outputType.empty())
            tip += QStringLiteral("<br>out: %1").arg(QString::fromStdString(m_spec->outputType));
    }
    if (m_state.status != NodeStatus::Idle)
        tip += QStringLiteral("<br>Status: %1").arg(toString(m_state.status));
    if (m_state.status == NodeStatus::Failed && !m_state.message.isEmpty())
        tip += QStringLiteral("<br><font color='#c63b3b'>%1</font>")
                   .arg(m_state.message.toHtmlEscaped());
    for (const QString &p : m_problems)
        tip += QStringLiteral("<br><font color='#c63b3b'>⚠ %1</font>").arg(p.toHtmlEscaped());
    setToolTip(tip);
}

void NodeItem::paint(QPainter *painter, const QStyleOptionGraphicsItem *, QWidget *)
{
    painter->setRenderHint(QPainter::Antialiasing);
    const QRectF body(0, 0, kWidth, height());
    const QColor accent = statusColor(m_state.status);
    // Zoomed out, the ordinary labels would shrink below legibility: draw the overview instead.
    const double zoom =
        QStyleOptionGraphicsItem::levelOfDetailFromTransform(painter->worldTransform());
    if (zoom < kDetailZoom) {
        paintOverview(painter, zoom, accent);
        return;
    }

    painter->setPen(Qt::NoPen);
    painter->setBrush(QColor(0x2b, 0x2f, 0x36));
    painter->drawRoundedRect(body, 6, 6);
    QPainterPath header;
    header.addRoundedRect(QRectF(0, 0, kWidth, kHeader), 6, 6);
    header.addRect(QRectF(0, kHeader / 2, kWidth, kHeader / 2));
    painter->setBrush(accent);
    painter->drawPath(header.simplified());

    QPen border(isSelected() ? QColor(0xff, 0xc8, 0x3d) : QColor(0x15, 0x17, 0x1a),
                isSelected() ? 2.5 : 1.2);
    if (!m_problems.isEmpty())
        border = QPen(QColor(0xe5, 0x39, 0x35), isSelected() ? 3.5 : 2.5);
    painter->setPen(border);
    painter->setBrush(Qt::NoBrush);
    painter->drawRoundedRect(body, 6, 6);

    QFont font = painter->font();
    font.setBold(true);
    painter->setFont(font);
    painter->setPen(Qt::white);
    const QFontMetricsF fm(font);
    painter->drawText(QRectF(8, 0, kWidth - 16, kHeader), Qt::AlignVCenter | Qt::AlignLeft,
                      fm.elidedText(QString::fromStdString(m_id), Qt::ElideRight, kWidth - 16));
    font.setBold(false);
    painter->setFont(font);

    // Ports: inputs left with their names, the output right with its type.
    painter->setPen(QColor(0xd0, 0xd4, 0xda));
    if (m_spec) {
        for (size_t i = 0; i < m_spec->inputs.size(); ++i) {
            const auto &port = m_spec->inputs[i];
            const QPointF p = localInputPos(int(i));
            painter->setBrush(port.optional ? QColor(0x70, 0x78, 0x84) : QColor(0x7f, 0xb2, 0xe5));
            painter->drawEllipse(p, kPortRadius, kPortRadius);
            const QString label = QString::fromStdString(port.name) + (port.multiple ? "[]" : "");
            painter->drawText(QRectF(p.x() + 10, p.y() - kRow / 2, kWidth / 2, kRow),
                              Qt::AlignVCenter | Qt::AlignLeft, label);
        }
        if (!m_spec->outputType.empty()) {
            const QPointF o(kWidth, kHeader + kRow * 0.5);
            painter->setBrush(QColor(0xf0, 0xb4, 0x5a));
            painter->drawEllipse(o, kPortRadius, kPortRadius);
            painter->drawText(QRectF(kWidth / 2, o.y() - kRow / 2, kWidth / 2 - 10, kRow),
                              Qt::AlignVCenter | Qt::AlignRight,
                              QString::fromStdString(m_spec->outputType));
        }
    }

    // Status line: type, or the progress bar while running.
    const QRectF status(8, height() - 17, kWidth - 16, 12);
    if (m_state.status == NodeStatus::Running && m_state.progress >= 0) {
        painter->setPen(Qt::NoPen);
        painter->setBrush(QColor(0x44, 0x4a, 0x54));
        painter->drawRoundedRect(status, 3, 3);
        painter->setBrush(accent);
        painter->drawRoundedRect(QRectF(status.topLeft(),
                                        QSizeF(status.width() * std::min(1.0, m_state.progress),
                                               status.height())),
                                 3, 3);
    } else {
        painter->setPen(QColor(0x9a, 0xa0, 0xa8));
        QString text = QString::fromStdString(m_type);
        if (m_state.status != NodeStatus::Idle)
            text += QStringLiteral(" · ") + toString(m_state.status);
        painter->drawText(status, Qt::AlignVCenter | Qt::AlignLeft,
                          QFontMetricsF(font).elidedText(text, Qt::ElideRight, status.width()));
    }
}

void NodeItem::paintOverview(QPainter *painter, double zoom, const QColor &accent) const
{
    // The whole body in the state colour, the id in a font that stays kOverviewPixels tall on
    // screen, and the state below it when there is room; ports and port names are left out.
    const QRectF body(0, 0, kWidth, height());
    painter->setPen(isSelected() ? QPen(QColor(0xff, 0xc8, 0x3d), 3 / zoom)
                    : m_problems.isEmpty() ? QPen(QColor(0x15, 0x17, 0x1a), 1 / zoom)
                                           : QPen(QColor(0xe5, 0x39, 0x35), 3 / zoom));
    painter->setBrush(accent.darker(130));
    painter->drawRoundedRect(body, 6, 6);
    if (zoom < kNoTextZoom) // the minimap: text would be larger than the node
        return;
    QFont font = painter->font();
    font.setBold(true);
    font.setPixelSize(std::max(1, int(std::lround(kOverviewPixels / zoom))));
    painter->setFont(font);
    painter->setPen(Qt::white);
    const QRectF text = body.adjusted(6, 4, -6, -4);
    const QFontMetricsF fm(font);
    const QString id = fm.elidedText(QString::fromStdString(m_id), Qt::ElideRight, text.width());
    const bool room = fm.height() * 2 <= text.height();
    painter->drawText(text, (room ? Qt::AlignTop : Qt::AlignVCenter) | Qt::AlignHCenter, id);
    if (room) {
        font.setBold(false);
        painter->setFont(font);
        painter->setPen(QColor(0xe0, 0xe4, 0xea));
        const QString state = m_state.status == NodeStatus::Idle ? QString::fromStdString(m_type)
                                                                 : toString(m_state.status);
        painter->drawText(text, Qt::AlignBottom | Qt::AlignHCenter,
                          fm.elidedText(state, Qt::ElideRight, text.width()));
    }
}

QVariant NodeItem::itemChange(GraphicsItemChange change, const QVariant &value)
{
    if (change == ItemScenePositionHasChanged)
        Q_EMIT moved();
    return QGraphicsObject::itemChange(change, value);
}

} // namespace qbui
