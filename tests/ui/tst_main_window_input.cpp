// The main window driven as a user drives it: mouse and key events on the editor view, the
// palette and the inspector (QTest input, no model calls). A quantize node dragged from the
// palette, wired by dragging from port to port, marks the evaluation stale; F5 runs, and the
// evaluation of the added model is the only one computed (the per-model evaluation cache). A
// click selects a node and the inspector shows only its method's parameters; typing a method
// name in the method box switches them. Esc cancels a connection or a move being dragged.
#include "support/test_support.h"
#include "ui/graph_model.h"
#include "ui/graph_scene.h"
#include "ui/graph_view.h"
#include "ui/inspector.h"
#include "ui/main_window.h"
#include "ui/node_palette.h"

#include <QComboBox>
#include <QDrag>
#include <QDir>
#include <QMimeData>
#include <QSpinBox>
#include <QStandardPaths>
#include <QTest>
#include <QTimer>

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// A random model small enough that evaluating it on three questions takes well under a second.
const char kProject[] = R"(schema_version: 1
name: input-study
seed: 5
nodes:
  - {id: base, type: model.random, params: {vocab_size: 256, hidden_size: 32,
     intermediate_size: 64, layers: 2, heads: 4, kv_heads: 2, max_positions: 256}}
  - {id: q8, type: quantize, inputs: {model: base}, params: {method: int8}}
  - {id: gsm, type: dataset.gsm8k, params: {limit: 3}}
  - {id: ev, type: evaluate, inputs: {models: [base, q8], datasets: [gsm]},
     params: {batch_size: 3, decoding: {max_new_tokens: 6}}}
layout: {base: [0, 0], q8: [260, 0], gsm: [0, 220], ev: [560, 120]}
)";

QString status(qbui::MainWindow &w, const char *id)
{
    return qbui::toString(w.nodeState(id).status);
}

int evalMeta(qbui::MainWindow &w, const char *key)
{
    const json &meta = w.lastSummary().results["nodes"]["ev"]["meta"];
    return meta.value(key, -1);
}

QPoint viewPoint(qbui::MainWindow &w, QPointF scene)
{
    return w.view()->mapFromScene(scene);
}

// Press, move in a few steps (as a hand does), release: a drag in the view's viewport.
void mouseDrag(QWidget *viewport, QPoint from, QPoint to)
{
    QTest::mousePress(viewport, Qt::LeftButton, {}, from);
    for (int i = 1; i <= 4; ++i)
        QTest::mouseMove(viewport, from + (to - from) * i / 4);
    QTest::mouseRelease(viewport, Qt::LeftButton, {}, to);
}

} // namespace

class TestMainWindowInput : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        m_tmp = qbtest::makeTempDir("ui_main_window_input");
        qputenv("QB_CACHE_DIR", QByteArray::fromStdString((m_tmp / "cache").string()));
        QDir::setCurrent(QString::fromStdString(m_tmp.string()));
        qbtest::writeFile(m_tmp / "input-study.yaml", kProject);
        m_project = QString::fromStdString((m_tmp / "input-study.yaml").string());
    }

    void addingAModelByMouseEvaluatesOnlyThatModel()
    {
        qbui::MainWindow w;
        w.setInteractive(false);
        QVERIFY(w.openFile(m_project));
        show(w);
        QWidget *vp = w.view()->viewport();

        // F5 runs everything: both models are evaluated.
        QTest::keyClick(w.view(), Qt::Key_F5);
        QVERIFY(w.isRunning());
        QTRY_VERIFY_WITH_TIMEOUT(!w.isRunning(), 120000);
        QCOMPARE(w.lastSummary().status, std::string("ok"));
        QCOMPARE(evalMeta(w, "evaluated"), 2);
        QCOMPARE(status(w, "ev"), QString("done"));

        // Drag "Quantize" from the palette into the view, below q8.
        auto *palette = w.findChild<qbui::NodePalette *>();
        QVERIFY(palette);
        const auto found = palette->findItems("Quantize", Qt::MatchExactly | Qt::MatchRecursive);
        QCOMPARE(found.size(), 1);
        const QPointF dropAt(260, 200);
        dragFromPalette(w, palette, found.front(), viewPoint(w, dropAt));
        const std::string added = newNodeId(w, "quantize");
        QVERIFY2(!added.empty(), "the drop added no quantize node");
        QVERIFY((w.model()->position(added) - dropAt).manhattanLength() < 3);
        QCOMPARE(status(w, "ev"), QString("done")); // nothing it reads has changed yet

        // Wire base -> new quantize (its model port) and new quantize -> ev (models).
        auto *scene = w.scene();
        mouseDrag(vp, viewPoint(w, scene->nodeItem("base")->outputPortPos()),
                  viewPoint(w, scene->nodeItem(added)->inputPortPos("model")));
        QVERIFY(w.model()->experiment().find(added)->inputsOf("model"));
        mouseDrag(vp, viewPoint(w, scene->nodeItem(added)->outputPortPos()),
                  viewPoint(w, scene->nodeItem("ev")->inputPortPos("models")));
        QCOMPARE(w.model()->experiment().find("ev")->inputsOf("models")->size(), size_t(3));
        // The evaluation now reads a third model: it will run again; the rest stays as it was.
        QCOMPARE(status(w, "ev"), QString("stale (will re-run)"));
        QCOMPARE(status(w, "q8"), QString("done"));
        QCOMPARE(status(w, "base"), QString("done"));

        // F5 again: only the added model is evaluated, the other two come from the cache.
        QTest::keyClick(w.view(), Qt::Key_F5);
        QTRY_VERIFY_WITH_TIMEOUT(!w.isRunning(), 120000);
        QCOMPARE(w.lastSummary().status, std::string("ok"));
        QCOMPARE(evalMeta(w, "evaluated"), 1);
        QCOMPARE(evalMeta(w, "reused"), 2);
        int rows = 0;
        for (const auto &r : w.lastSummary().results["results"])
            rows += r.value("node", "") == "ev";
        QCOMPARE(rows, 3);
    }

    void clickShowsOnlyTheChosenMethodsParametersAndAnEditMarksStale()
    {
        qbui::MainWindow w;
        w.setInteractive(false);
        QVERIFY(w.openFile(m_project));
        show(w);
        QTest::keyClick(w.view(), Qt::Key_F5);
        QTRY_VERIFY_WITH_TIMEOUT(!w.isRunning(), 120000);
        const QString ran = status(w, "q8"); // cached when the first test ran before
        QVERIFY2(ran == "cached" || ran == "done", qPrintable(ran));

        // A click on q8's title selects it; the inspector shows int8's parameters only.
        QTest::mouseClick(w.view()->viewport(), Qt::LeftButton, {},
                          viewPoint(w, w.model()->position("q8") + QPointF(60, 12)));
        QCOMPARE(w.scene()->selectedNodeIds(), std::set<std::string>{"q8"});
        auto *inspector = w.findChild<qbui::Inspector *>();
        QVERIFY(inspector);
        QTRY_VERIFY(inspector->findChild<QComboBox *>("param:method"));
        QVERIFY(!inspector->findChild<QSpinBox *>("param:block_size"));
        QVERIFY(!inspector->findChild<QSpinBox *>("param:bits"));
        QVERIFY(!inspector->findChild<QWidget *>("param:damp"));

        // Typing "nf4" in the method box chooses NF4: its block size appears, nothing of GPTQ.
        auto *method = inspector->findChild<QComboBox *>("param:method");
        method->setFocus();
        QTest::keyClicks(method, "nf4");
        QTRY_COMPARE(w.model()->experiment().find("q8")->params.value("method", ""),
                     std::string("nf4"));
        QTRY_VERIFY(inspector->findChild<QSpinBox *>("param:block_size"));
        QVERIFY(!inspector->findChild<QSpinBox *>("param:bits"));
        QVERIFY(!inspector->findChild<QWidget *>("param:damp"));
        // The edit marks q8 and what reads it as stale; base is untouched.
        QCOMPARE(status(w, "q8"), QString("stale (will re-run)"));
        QCOMPARE(status(w, "ev"), QString("stale (will re-run)"));
        QCOMPARE(status(w, "base"), ran);

        // A new block size typed into its box: still stale, and Ctrl+Z twice brings int8 back.
        auto *block = inspector->findChild<QSpinBox *>("param:block_size");
        block->setFocus();
        block->selectAll();
        QTest::keyClicks(block, "32");
        QTest::keyClick(block, Qt::Key_Return);
        QTRY_COMPARE(w.model()->experiment().find("q8")->params.value("block_size", 0), 32);
        w.view()->setFocus();
        QTest::keyClick(w.view(), Qt::Key_Z, Qt::ControlModifier);
        QTest::keyClick(w.view(), Qt::Key_Z, Qt::ControlModifier);
        QCOMPARE(w.model()->experiment().find("q8")->params.value("method", ""),
                 std::string("int8"));
        QCOMPARE(status(w, "q8"), ran);
        QCOMPARE(status(w, "ev"), ran);
    }

    void escapeCancelsAConnectionOrAMoveBeingDragged()
    {
        qbui::MainWindow w;
        w.setInteractive(false);
        QVERIFY(w.openFile(m_project));
        show(w);
        QWidget *vp = w.view()->viewport();
        auto *scene = w.scene();
        const size_t before = w.model()->edges().size();

        // A connection from gsm dragged to q8's calibration port, Esc, then released there.
        const QPoint from = viewPoint(w, scene->nodeItem("gsm")->outputPortPos());
        const QPoint to = viewPoint(w, scene->nodeItem("q8")->inputPortPos("calibration"));
        QTest::mousePress(vp, Qt::LeftButton, {}, from);
        QTest::mouseMove(vp, (from + to) / 2);
        QVERIFY(scene->gestureInProgress());
        QTest::keyClick(w.view(), Qt::Key_Escape);
        QVERIFY(!scene->gestureInProgress());
        QTest::mouseRelease(vp, Qt::LeftButton, {}, to);
        QCOMPARE(w.model()->edges().size(), before);
        QVERIFY(!w.isRunning()); // Esc during a drag is the drag's, not "cancel run"
        // The same gesture without Esc connects.
        mouseDrag(vp, from, to);
        QCOMPARE(w.model()->edges().size(), before + 1);

        // A node moved by its title bar, then Esc: it goes back, and nothing is recorded.
        const QPointF home = w.model()->position("q8");
        const int commands = w.model()->undoStack()->count();
        const QPoint grab = viewPoint(w, home + QPointF(60, 12));
        QTest::mousePress(vp, Qt::LeftButton, {}, grab);
        QTest::mouseMove(vp, grab + QPoint(40, 30));
        QTest::mouseMove(vp, grab + QPoint(80, 60));
        QVERIFY(scene->nodeItem("q8")->pos() != home);
        QTest::keyClick(w.view(), Qt::Key_Escape);
        QCOMPARE(scene->nodeItem("q8")->pos(), home);
        QTest::mouseMove(vp, grab + QPoint(120, 90));
        QTest::mouseRelease(vp, Qt::LeftButton, {}, grab + QPoint(120, 90));
        QCOMPARE(w.model()->position("q8"), home);
        QCOMPARE(w.model()->undoStack()->count(), commands);

        // Without a drag, the same move is recorded as one undoable step.
        mouseDrag(vp, grab, grab + QPoint(80, 60));
        QVERIFY(w.model()->position("q8") != home);
        QCOMPARE(w.model()->undoStack()->count(), commands + 1);
    }

private:
    // Shown, active, at zoom 1 with the project's nodes in view, keyboard focus on the editor.
    void show(qbui::MainWindow &w)
    {
        w.show();
        w.activateWindow();
        QVERIFY(QTest::qWaitForWindowActive(&w));
        w.view()->resetZoom();
        w.view()->centerOn(400, 150);
        w.view()->setFocus();
    }

    std::string newNodeId(qbui::MainWindow &w, const std::string &type)
    {
        for (const auto &n : w.model()->experiment().nodes)
            if (n.type == type && n.id != "q8")
                return n.id;
        return {};
    }

    // Presses on the palette item and moves past the drag distance, which starts the palette's
    // drag. On a platform with drag and drop (xcb under xvfb-run), QDrag::exec runs its own
    // loop: the rest of the gesture comes from timers inside it, as window-system mouse events
    // over the view. The offscreen platform ends a drag at once (it has no drag and drop), so
    // there the drop the drag would deliver is sent to the view as the platform would: enter,
    // move, drop, carrying the palette's own mime data for the item.
    void dragFromPalette(qbui::MainWindow &w, qbui::NodePalette *palette, QTreeWidgetItem *item,
                         QPoint target)
    {
        palette->scrollToItem(item);
        const QPoint start = palette->visualItemRect(item).center();
        QWidget *pvp = palette->viewport();
        if (QGuiApplication::platformName() != QLatin1String("offscreen")) {
            QWindow *window = w.windowHandle();
            const QPoint over = w.view()->viewport()->mapTo(&w, target);
            QTimer::singleShot(100, &w, [=] { QTest::mouseMove(window, over - QPoint(20, 0)); });
            QTimer::singleShot(200, &w, [=] { QTest::mouseMove(window, over); });
            QTimer::singleShot(300, &w, [=] {
                QTest::mouseRelease(window, Qt::LeftButton, {}, over);
            });
            QTimer::singleShot(5000, &w, [] { QDrag::cancel(); }); // never hang the test
        }
        QTest::mousePress(pvp, Qt::LeftButton, {}, start);
        QTest::mouseMove(pvp, start + QPoint(QApplication::startDragDistance() + 2, 0));
        QTest::mouseMove(pvp, start + QPoint(3 * QApplication::startDragDistance() + 8, 4));
        QTest::mouseRelease(pvp, Qt::LeftButton, {}, start + QPoint(40, 4));
        if (!w.model()->experiment().nodes.empty() && !newNodeId(w, "quantize").empty())
            return; // a platform with drag and drop delivered it
        const QModelIndex index = palette->indexFromItem(item);
        std::unique_ptr<QMimeData> data(palette->model()->mimeData({index}));
        QVERIFY(data && data->hasFormat(qbui::GraphScene::kNodeMimeType));
        QWidget *vp = w.view()->viewport();
        QDragEnterEvent enter(target, Qt::CopyAction, data.get(), Qt::LeftButton, {});
        QApplication::sendEvent(vp, &enter);
        QVERIFY(enter.isAccepted());
        QDragMoveEvent move(target, Qt::CopyAction, data.get(), Qt::LeftButton, {});
        QApplication::sendEvent(vp, &move);
        QVERIFY(move.isAccepted());
        QDropEvent drop(target, Qt::CopyAction, data.get(), Qt::LeftButton, {});
        QApplication::sendEvent(vp, &drop);
        QVERIFY(drop.isAccepted());
    }

    fs::path m_tmp;
    QString m_project;
};

QTEST_MAIN(TestMainWindowInput)
#include "tst_main_window_input.moc"
