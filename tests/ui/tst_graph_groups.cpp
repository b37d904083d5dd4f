// Groups in the node editor, driven as a user drives them (QTest mouse and key events on the
// view): Ctrl+click or a rubber band and Ctrl+G (or the context menu's Group) frame exactly the
// selected nodes; a click on the frame's toggle collapses it (members and inner edges hidden, the
// outside edges still drawn and ending on the box, states summarised) and expands it with the
// positions as they were; dragging the title bar moves the members by the drag; a double-click
// renames; undo restores each step. Groups survive save and open; a file without them saves
// without them; the shipped quant study opens with its groups laid out apart from each other and
// still loads headless.
#include "support/test_support.h"
#include "ui/edge_item.h"
#include "ui/graph_model.h"
#include "ui/graph_scene.h"
#include "ui/graph_view.h"
#include "ui/group_item.h"
#include "ui/main_window.h"

#include <QApplication>
#include <QContextMenuEvent>
#include <QMenu>
#include <QStandardPaths>
#include <QTest>
#include <QTimer>

namespace fs = std::filesystem;

namespace {

// Four nodes, nothing run: base -> q8, both -> ev, gsm -> ev (four edges).
const char kProject[] = R"(schema_version: 1
name: groups-study
seed: 5
nodes:
  - {id: base, type: model.random, params: {vocab_size: 256, hidden_size: 32,
     intermediate_size: 64, layers: 2, heads: 4, kv_heads: 2, max_positions: 256}}
  - {id: q8, type: quantize, inputs: {model: base}, params: {method: int8}}
  - {id: gsm, type: dataset.gsm8k, params: {limit: 3}}
  - {id: ev, type: evaluate, inputs: {models: [base, q8], datasets: [gsm]}}
layout: {base: [0, 0], q8: [260, 0], gsm: [0, 220], ev: [560, 120]}
)";

QPoint viewPoint(qbui::MainWindow &w, QPointF scene)
{
    return w.view()->mapFromScene(scene);
}

void mouseDrag(QWidget *viewport, QPoint from, QPoint to, Qt::KeyboardModifiers mods = {})
{
    QTest::mousePress(viewport, Qt::LeftButton, mods, from);
    for (int i = 1; i <= 4; ++i)
        QTest::mouseMove(viewport, from + (to - from) * i / 4);
    QTest::mouseRelease(viewport, Qt::LeftButton, mods, to);
}

int visibleEdges(qbui::GraphScene *scene)
{
    int n = 0;
    for (const qbui::EdgeItem *e : scene->edgeItems())
        n += e->isVisible();
    return n;
}

const qbui::EdgeItem *edgeItem(qbui::GraphScene *scene, const std::string &from,
                               const std::string &to)
{
    for (const qbui::EdgeItem *e : scene->edgeItems())
        if (e->edge().from == from && e->edge().to == to)
            return e;
    return nullptr;
}

// A point on a node's title bar, where a click selects it and nothing else.
QPointF titleOf(qbui::MainWindow &w, const char *id)
{
    return w.model()->position(id) + QPointF(60, 12);
}

} // namespace

class TestGraphGroups : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        m_tmp = qbtest::makeTempDir("ui_graph_groups");
        qbtest::writeFile(m_tmp / "groups-study.yaml", kProject);
        m_project = QString::fromStdString((m_tmp / "groups-study.yaml").string());
    }

    void ctrlClickAndCtrlGGroupExactlyTheSelection()
    {
        qbui::MainWindow w;
        open(w);
        QWidget *vp = w.view()->viewport();
        QTest::mouseClick(vp, Qt::LeftButton, {}, viewPoint(w, titleOf(w, "q8")));
        QTest::mouseClick(vp, Qt::LeftButton, Qt::ControlModifier, viewPoint(w, titleOf(w, "base")));
        QCOMPARE(w.scene()->selectedNodeIds(), (std::set<std::string>{"base", "q8"}));
        QTest::keyClick(w.view(), Qt::Key_G, Qt::ControlModifier);
        const auto &groups = w.model()->experiment().groups;
        QCOMPARE(groups.size(), size_t(1));
        QCOMPARE(groups[0].nodes, (std::vector<std::string>{"base", "q8"})); // file order
        QVERIFY(!groups[0].collapsed);
        // The frame encloses its two members and neither of the others.
        const QRectF frame = w.scene()->groupItem(0)->frameRect();
        for (const char *id : {"base", "q8"})
            QVERIFY(frame.contains(w.scene()->nodeItem(id)->sceneBoundingRect()));
        for (const char *id : {"gsm", "ev"})
            QVERIFY(!frame.intersects(w.scene()->nodeItem(id)->sceneBoundingRect()));

        // Undo, redo, and Ctrl+Shift+G on a member ungroups.
        QTest::keyClick(w.view(), Qt::Key_Z, Qt::ControlModifier);
        QVERIFY(w.model()->experiment().groups.empty());
        QVERIFY(w.scene()->groupItems().empty());
        // Redo is Ctrl+Y or Ctrl+Shift+Z depending on the platform theme.
        const QKeyCombination redo = QKeySequence::keyBindings(QKeySequence::Redo).value(0)[0];
        QTest::keyClick(w.view(), redo.key(), redo.keyboardModifiers());
        QCOMPARE(w.model()->experiment().groups.size(), size_t(1));
        QTest::mouseClick(vp, Qt::LeftButton, {}, viewPoint(w, titleOf(w, "q8")));
        QTest::keyClick(w.view(), Qt::Key_G, Qt::ControlModifier | Qt::ShiftModifier);
        QVERIFY(w.model()->experiment().groups.empty());
        QCOMPARE(w.model()->experiment().nodes.size(), size_t(4)); // the nodes stay
    }

    // Right-click on an unselected node selects it; the menu's Group frames it.
    void contextMenuGroups()
    {
        qbui::MainWindow w;
        open(w);
        QWidget *vp = w.view()->viewport();
        QTest::mouseClick(vp, Qt::LeftButton, {}, viewPoint(w, titleOf(w, "gsm")));
        QStringList seen;
        QTimer::singleShot(200, &w, [&] {
            auto *menu = qobject_cast<QMenu *>(QApplication::activePopupWidget());
            if (!menu)
                return;
            for (QAction *a : menu->actions())
                seen << a->text();
            for (QAction *a : menu->actions())
                if (a->text() == QStringLiteral("&Group"))
                    a->trigger();
            menu->close();
        });
        const QPoint at = viewPoint(w, titleOf(w, "q8"));
        QContextMenuEvent event(QContextMenuEvent::Mouse, at, vp->mapToGlobal(at));
        QApplication::sendEvent(vp, &event);
        QVERIFY2(seen.contains("U&ngroup") && seen.contains("&Delete"), qPrintable(seen.join('|')));
        QCOMPARE(w.model()->experiment().groups.size(), size_t(1));
        QCOMPARE(w.model()->experiment().groups[0].nodes, std::vector<std::string>{"q8"});
    }

    void rubberBandAndCtrlGGroup()
    {
        qbui::MainWindow w;
        open(w);
        // From empty space above-left of base to below gsm, short of q8 (x 260) and ev.
        mouseDrag(w.view()->viewport(), viewPoint(w, QPointF(-40, -50)),
                  viewPoint(w, QPointF(225, 320)));
        QCOMPARE(w.scene()->selectedNodeIds(), (std::set<std::string>{"base", "gsm"}));
        QTest::keyClick(w.view(), Qt::Key_G, Qt::ControlModifier);
        QCOMPARE(w.model()->experiment().groups.size(), size_t(1));
        QCOMPARE(w.model()->experiment().groups[0].nodes,
                 (std::vector<std::string>{"base", "gsm"}));
    }

    void collapseHidesTheInsideAndKeepsTheOutsideEdges()
    {
        qbui::MainWindow w;
        open(w);
        auto *scene = w.scene();
        QVERIFY(w.model()->groupNodes({"base", "q8"}, "8-bit") == 0);
        QCOMPARE(visibleEdges(scene), 4);
        qbui::GroupItem *g = scene->groupItem(0);
        const QPointF toggle = g->mapToScene(g->toggleRect().center());
        const QPointF basePos = scene->nodeItem("base")->pos(), q8Pos = scene->nodeItem("q8")->pos();

        QTest::mouseClick(w.view()->viewport(), Qt::LeftButton, {}, viewPoint(w, toggle));
        QVERIFY(w.model()->experiment().groups[0].collapsed);
        QVERIFY(!scene->nodeItem("base")->isVisible());
        QVERIFY(!scene->nodeItem("q8")->isVisible());
        QVERIFY(scene->nodeItem("ev")->isVisible());
        // base -> q8 is inside: hidden. base -> ev, q8 -> ev, gsm -> ev stay.
        QCOMPARE(visibleEdges(scene), 3);
        QVERIFY(!edgeItem(scene, "base", "q8")->isVisible());
        // The outside edges leave from the box's right side, and still end at ev's port.
        const QRectF box = g->frameRect();
        QCOMPARE(box.width(), qbui::GroupFrame::kCollapsedWidth);
        for (const char *from : {"base", "q8"}) {
            const QPainterPath path = edgeItem(scene, from, "ev")->path();
            QCOMPARE(path.elementAt(0).x, box.right());
            QVERIFY(box.top() < path.elementAt(0).y && path.elementAt(0).y < box.bottom());
            QCOMPARE(path.currentPosition(), scene->nodeItem("ev")->inputPortPos("models"));
        }
        QVERIFY(edgeItem(scene, "base", "ev")->toolTip().contains("(model)")); // still typed
        // The fit and the minimap see the box, not the hidden nodes.
        QVERIFY(scene->graphRect().contains(box));

        // States summarised on the box: the worst one wins.
        scene->setRunState("base", {qbui::NodeStatus::Done, -1, {}});
        scene->setRunState("q8", {qbui::NodeStatus::Running, 0.5, {}});
        QVERIFY(g->summaryStatus() == qbui::NodeStatus::Running);
        scene->setRunState("q8", {qbui::NodeStatus::Failed, -1, "boom"});
        QVERIFY(g->summaryStatus() == qbui::NodeStatus::Failed);
        QCOMPARE(g->summaryText(), QString("1 failed · 1 done"));

        // Expanding puts everything back where it was.
        QTest::mouseClick(w.view()->viewport(), Qt::LeftButton, {},
                          viewPoint(w, g->mapToScene(g->toggleRect().center())));
        QVERIFY(!w.model()->experiment().groups[0].collapsed);
        QVERIFY(scene->nodeItem("base")->isVisible());
        QCOMPARE(scene->nodeItem("base")->pos(), basePos);
        QCOMPARE(scene->nodeItem("q8")->pos(), q8Pos);
        QCOMPARE(visibleEdges(scene), 4);
        // Collapse and expand are undo steps.
        QTest::keyClick(w.view(), Qt::Key_Z, Qt::ControlModifier);
        QVERIFY(w.model()->experiment().groups[0].collapsed);
        QCOMPARE(visibleEdges(scene), 3);
        QTest::keyClick(w.view(), Qt::Key_Z, Qt::ControlModifier);
        QVERIFY(!w.model()->experiment().groups[0].collapsed);
    }

    void draggingTheFrameMovesItsNodes()
    {
        qbui::MainWindow w;
        open(w);
        QVERIFY(w.model()->groupNodes({"base", "q8"}, "8-bit") == 0);
        const std::map<std::string, QPointF> before{
            {"base", w.model()->position("base")}, {"q8", w.model()->position("q8")},
            {"gsm", w.model()->position("gsm")}, {"ev", w.model()->position("ev")}};
        const int commands = w.model()->undoStack()->count();
        qbui::GroupItem *g = w.scene()->groupItem(0);
        const QPointF grab = g->frameRect().topLeft() + QPointF(120, 17); // title bar
        const QPoint start = viewPoint(w, grab);
        mouseDrag(w.view()->viewport(), start, start + QPoint(100, 60));
        const QPointF delta = w.view()->mapToScene(start + QPoint(100, 60))
                              - w.view()->mapToScene(start);
        QCOMPARE(delta, QPointF(100, 60)); // zoom 1
        QCOMPARE(w.model()->position("base"), before.at("base") + delta);
        QCOMPARE(w.model()->position("q8"), before.at("q8") + delta);
        QCOMPARE(w.model()->position("gsm"), before.at("gsm"));
        QCOMPARE(w.model()->position("ev"), before.at("ev"));
        QCOMPARE(w.model()->undoStack()->count(), commands + 1); // one step
        QCOMPARE(g->frameRect().topLeft(), grab - QPointF(120, 17) + delta);

        // Esc during a frame drag puts the members back and records nothing.
        const QPoint again = viewPoint(w, g->frameRect().topLeft() + QPointF(120, 17));
        QTest::mousePress(w.view()->viewport(), Qt::LeftButton, {}, again);
        QTest::mouseMove(w.view()->viewport(), again + QPoint(30, 30));
        QTest::mouseMove(w.view()->viewport(), again + QPoint(60, 40));
        QVERIFY(w.scene()->gestureInProgress());
        QTest::keyClick(w.view(), Qt::Key_Escape);
        QTest::mouseRelease(w.view()->viewport(), Qt::LeftButton, {}, again + QPoint(60, 40));
        QCOMPARE(w.scene()->nodeItem("q8")->pos(), before.at("q8") + delta);
        QCOMPARE(w.model()->undoStack()->count(), commands + 1);

        // Collapsed, the box drags its (hidden) members along too.
        w.model()->setGroupCollapsed(0, true);
        const QPoint boxGrab = viewPoint(w, g->frameRect().center());
        mouseDrag(w.view()->viewport(), boxGrab, boxGrab + QPoint(-40, 20));
        QCOMPARE(w.model()->position("base"), before.at("base") + delta + QPointF(-40, 20));
        QCOMPARE(w.model()->position("q8"), before.at("q8") + delta + QPointF(-40, 20));

        // Undo twice: back where they started.
        w.view()->setFocus();
        QTest::keyClick(w.view(), Qt::Key_Z, Qt::ControlModifier); // the box move
        QTest::keyClick(w.view(), Qt::Key_Z, Qt::ControlModifier); // the collapse
        QTest::keyClick(w.view(), Qt::Key_Z, Qt::ControlModifier); // the frame move
        for (const auto &[id, p] : before)
            QCOMPARE(w.model()->position(id), p);
    }

    void doubleClickRenames()
    {
        qbui::MainWindow w;
        open(w);
        QVERIFY(w.model()->groupNodes({"base", "q8"}, "Group 1") == 0);
        qbui::GroupItem *g = w.scene()->groupItem(0);
        const QPoint title = viewPoint(w, g->frameRect().topLeft() + QPointF(80, 17));
        QTest::mouseDClick(w.view()->viewport(), Qt::LeftButton, {}, title);
        QVERIFY(g->isEditingTitle());
        QTest::keyClicks(w.view(), "8-bit");
        QTest::keyClick(w.view(), Qt::Key_Delete); // the editor's, not "delete nodes"
        QTest::keyClick(w.view(), Qt::Key_Return);
        QVERIFY(!g->isEditingTitle());
        QCOMPARE(w.model()->experiment().groups[0].title, std::string("8-bit"));
        QCOMPARE(w.model()->experiment().nodes.size(), size_t(4));
        // Esc drops an edit.
        QTest::mouseDClick(w.view()->viewport(), Qt::LeftButton, {}, title);
        QTest::keyClicks(w.view(), "other");
        QTest::keyClick(w.view(), Qt::Key_Escape);
        QCOMPARE(w.model()->experiment().groups[0].title, std::string("8-bit"));
        QTest::keyClick(w.view(), Qt::Key_Z, Qt::ControlModifier);
        QCOMPARE(w.model()->experiment().groups[0].title, std::string("Group 1"));
    }

    // Renames and deletions keep groups consistent: members follow a rename, deleted members
    // leave, an emptied group goes; a selected group deletes with its nodes (Delete key).
    void renameAndDeleteKeepGroupsConsistent()
    {
        qbui::MainWindow w;
        open(w);
        auto *model = w.model();
        QCOMPARE(model->groupNodes({"base", "q8"}, "8-bit"), 0);
        QCOMPARE(model->groupNodes({"q8", "gsm"}, "moved"), 1); // q8 leaves the first group
        QCOMPARE(model->experiment().groups[0].nodes, std::vector<std::string>{"base"});
        QVERIFY(model->renameNode("base", "fp").isEmpty());
        QCOMPARE(model->experiment().groups[0].nodes, std::vector<std::string>{"fp"});
        model->removeItems({"fp"}, {});
        QCOMPARE(model->experiment().groups.size(), size_t(1)); // the emptied group is gone
        QCOMPARE(model->experiment().groups[0].title, std::string("moved"));
        // Select the remaining group by a click on its title bar, then Delete.
        qbui::GroupItem *g = w.scene()->groupItem(0);
        QTest::mouseClick(w.view()->viewport(), Qt::LeftButton, {},
                          viewPoint(w, g->frameRect().topLeft() + QPointF(90, 17)));
        QCOMPARE(w.scene()->selectedGroups(), std::set<int>{0});
        QTest::keyClick(w.view(), Qt::Key_Delete);
        QVERIFY(model->experiment().groups.empty());
        QCOMPARE(model->experiment().nodes.size(), size_t(1)); // only ev is left
        QTest::keyClick(w.view(), Qt::Key_Z, Qt::ControlModifier);
        QCOMPARE(model->experiment().nodes.size(), size_t(3));
        QCOMPARE(model->experiment().groups.size(), size_t(1));
    }

    void groupsSurviveSaveAndOpen()
    {
        const QString saved = QString::fromStdString((m_tmp / "saved.yaml").string());
        {
            qbui::MainWindow w;
            open(w);
            w.model()->groupNodes({"base", "q8"}, "8-bit: base & q8");
            w.model()->groupNodes({"gsm"}, "data");
            w.model()->setGroupCollapsed(0, true);
            QVERIFY(w.saveFile(saved));
        }
        const std::string text = qbtest::readFile(saved.toStdString());
        QVERIFY2(text.find("groups:") != std::string::npos, text.c_str());
        qbui::MainWindow w;
        w.setInteractive(false);
        QVERIFY(w.openFile(saved));
        const auto &groups = w.model()->experiment().groups;
        QCOMPARE(groups.size(), size_t(2));
        QCOMPARE(groups[0].title, std::string("8-bit: base & q8"));
        QCOMPARE(groups[0].nodes, (std::vector<std::string>{"base", "q8"}));
        QVERIFY(groups[0].collapsed);
        QCOMPARE(groups[1].title, std::string("data"));
        QVERIFY(!groups[1].collapsed);
        QVERIFY(!w.scene()->nodeItem("q8")->isVisible());
        QVERIFY(w.scene()->nodeItem("gsm")->isVisible());
        // The core runs the same graph: groups are not part of what runs.
        const auto plain = qb::loadExperiment(m_project.toStdString(), qb::builtinRegistry());
        QCOMPARE(qb::executionOrder(w.model()->experiment()), qb::executionOrder(plain));
    }

    void aFileWithoutGroupsSavesAsBefore()
    {
        qbui::MainWindow w;
        open(w);
        QVERIFY(w.scene()->groupItems().empty());
        const QString saved = QString::fromStdString((m_tmp / "plain.yaml").string());
        QVERIFY(w.saveFile(saved));
        const std::string text = qbtest::readFile(saved.toStdString());
        QVERIFY(text.find("groups:") == std::string::npos);
        const auto original = qb::loadExperiment(m_project.toStdString(), qb::builtinRegistry());
        QCOMPARE(text, qb::toYaml(original));
    }

    // The shipped study opens with its stage groups laid out apart: no group's frame covers a
    // node that is not its member, frames do not overlap, and the file still loads headless.
    void quantStudyGroupsAreLaidOutApart()
    {
        const fs::path path = qbtest::sourceDir() / "projects/quant-study.yaml";
        const auto exp = qb::loadExperiment(path, qb::builtinRegistry());
        QVERIFY(!exp.groups.empty());
        QCOMPARE(qb::executionOrder(exp).size(), exp.nodes.size());
        qbui::MainWindow w;
        w.setInteractive(false);
        QVERIFY(w.openFile(QString::fromStdString(path.string())));
        checkApart(w);
        // Expanding the collapsed analysis group (laid out in a box's room) makes room for it in
        // the same undo step; undo brings back the box and every place.
        int collapsed = -1;
        for (size_t i = 0; i < exp.groups.size(); ++i)
            if (exp.groups[i].collapsed)
                collapsed = int(i);
        QVERIFY(collapsed >= 0);
        const auto layoutBefore = w.model()->experiment().layout;
        const int commands = w.model()->undoStack()->count();
        w.scene()->setGroupsCollapsed({collapsed}, false);
        QCOMPARE(w.model()->undoStack()->count(), commands + 1);
        QVERIFY(w.model()->experiment().layout != layoutBefore); // it did need the room
        checkApart(w);
        w.model()->undoStack()->undo();
        QVERIFY(w.model()->experiment().groups[collapsed].collapsed);
        QVERIFY(w.model()->experiment().layout == layoutBefore);
        // A group expanded where there is room keeps its members' places exactly.
        w.scene()->setGroupsCollapsed({0}, true);
        const auto collapsedLayout = w.model()->experiment().layout;
        w.scene()->setGroupsCollapsed({0}, false);
        QVERIFY(w.model()->experiment().layout == collapsedLayout);
        checkApart(w);
    }

private:
    void open(qbui::MainWindow &w)
    {
        w.setInteractive(false);
        QVERIFY(w.openFile(m_project));
        w.show();
        w.activateWindow();
        QVERIFY(QTest::qWaitForWindowActive(&w));
        w.view()->resetZoom();
        w.view()->centerOn(400, 150);
        w.view()->setFocus();
    }

    void checkApart(qbui::MainWindow &w)
    {
        auto *scene = w.scene();
        const auto &groups = w.model()->experiment().groups;
        for (size_t i = 0; i < groups.size(); ++i) {
            const QRectF frame = scene->groupItem(int(i))->frameRect();
            for (const auto &n : w.model()->experiment().nodes) {
                const auto *item = scene->nodeItem(n.id);
                const bool member = std::count(groups[i].nodes.begin(), groups[i].nodes.end(),
                                               n.id) > 0;
                if (!member && item->isVisible())
                    QVERIFY2(!frame.intersects(item->mapRectToScene(item->bodyRect())),
                             qPrintable(QString::fromStdString(groups[i].title + " covers " + n.id)));
            }
            for (size_t j = i + 1; j < groups.size(); ++j)
                QVERIFY2(!frame.intersects(scene->groupItem(int(j))->frameRect()),
                         qPrintable(QString::fromStdString(groups[i].title + " overlaps "
                                                           + groups[j].title)));
        }
    }

    fs::path m_tmp;
    QString m_project;
};

QTEST_MAIN(TestGraphGroups)
#include "tst_graph_groups.moc"
