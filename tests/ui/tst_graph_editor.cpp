// Node editor: the graph model's edits (add, connect with type/single-port/cycle checks, delete,
// move, parameters, copy/paste, layout), exact undo/redo, and the scene and inspector on top.
// Uses its own small registry so the expectations do not move with the core's node set.
#include "ui/edge_item.h"
#include "ui/graph_model.h"
#include "ui/graph_scene.h"
#include "ui/graph_view.h"
#include "quant/kernel_settings.h"
#include "ui/inspector.h"

#include <QCheckBox>
#include <QComboBox>
#include <QLineEdit>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTest>

using nlohmann::json;

// QCOMPARE cannot take nlohmann::json (its conversion templates trip Qt's type traits).
#define QCOMPARE_JSON(actual, expected)                                                         \
    do {                                                                                        \
        const json a_ = (actual);                                                               \
        const json e_ = (expected);                                                             \
        QVERIFY2(a_ == e_, qPrintable(QString::fromStdString(a_.dump() + " != " + e_.dump()))); \
    } while (false)
using qbui::Edge;

namespace {

qb::ParamSpec param(const std::string &name, qb::ParamKind kind, json def)
{
    qb::ParamSpec p;
    p.name = name;
    p.kind = kind;
    p.defaultValue = std::move(def);
    p.description = "the " + name;
    return p;
}

qb::NodeRegistry makeRegistry()
{
    qb::NodeRegistry r;
    qb::NodeSpec src;
    src.type = "test.src";
    src.category = "Test";
    src.outputType = "model";
    r.add(src);
    qb::NodeSpec data;
    data.type = "test.data";
    data.category = "Test";
    data.outputType = "dataset";
    r.add(data);
    qb::NodeSpec pass;
    pass.type = "test.pass";
    pass.category = "Test";
    pass.inputs = {{"model", "model", false, false, "input model"}};
    pass.outputType = "model";
    auto bits = param("bits", qb::ParamKind::Int, 4);
    bits.min = 2;
    bits.max = 8;
    auto method = param("method", qb::ParamKind::Enum, "nf4");
    method.choices = {"nf4", "fp4", "int4"};
    auto decoding = param("decoding", qb::ParamKind::Object, json::object());
    auto maxNew = param("max_new_tokens", qb::ParamKind::Int, 64);
    maxNew.min = 1;
    decoding.fields = {maxNew, param("greedy", qb::ParamKind::Bool, true)};
    pass.params = {bits, method, param("scale", qb::ParamKind::Float, 0.5),
                   param("double_quant", qb::ParamKind::Bool, false), decoding,
                   param("prompts", qb::ParamKind::StringList, json::array())};
    r.add(pass);
    qb::NodeSpec sink;
    sink.type = "test.sink";
    sink.category = "Test";
    sink.inputs = {{"models", "model", true, false, "models"},
                   {"data", "dataset", false, true, "data"}};
    sink.outputType = "evaluation";
    r.add(sink);
    return r;
}

} // namespace

class TestGraphEditor : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init()
    {
        m_model = std::make_unique<qbui::GraphModel>(m_registry);
        qb::Experiment e;
        e.name = "t";
        m_model->reset(e);
    }

    void addNodeGivesFreshIdsAndPositions()
    {
        std::string a, b;
        QVERIFY(m_model->addNode("test.src", {10, 20}, &a).isEmpty());
        QVERIFY(m_model->addNode("test.src", {30, 40}, &b).isEmpty());
        QCOMPARE(a, std::string("src"));
        QCOMPARE(b, std::string("src_2"));
        QCOMPARE(m_model->experiment().nodes.size(), size_t(2));
        QCOMPARE(m_model->position("src_2"), QPointF(30, 40));
        QVERIFY(!m_model->addNode("no.such.type", {}).isEmpty());
        QCOMPARE(m_model->experiment().nodes.size(), size_t(2));
    }

    void connectChecksTypesSinglePortsAndCycles()
    {
        add("test.src"); add("test.data"); add("test.pass"); add("test.pass"); add("test.sink");
        QVERIFY(m_model->connectPorts({"src", "pass", "model"}).isEmpty());
        QCOMPARE(*m_model->experiment().find("pass")->inputsOf("model"),
                 std::vector<std::string>{"src"});
        const int commands = m_model->undoStack()->count();

        QString why = m_model->connectPorts({"data", "pass_2", "model"});
        QVERIFY2(why.contains("port type mismatch"), qPrintable(why));
        why = m_model->connectPorts({"src", "sink", "data"});
        QVERIFY2(why.contains("port type mismatch"), qPrintable(why));
        why = m_model->connectPorts({"pass_2", "pass", "model"});
        QVERIFY2(why.contains("single connection"), qPrintable(why));
        QVERIFY(m_model->connectPorts({"pass", "pass_2", "model"}).isEmpty());
        // pass_2 now depends on pass: feeding pass from pass_2 would close a loop.
        m_model->disconnectPorts({"src", "pass", "model"});
        why = m_model->connectPorts({"pass_2", "pass", "model"});
        QVERIFY2(why.contains("cycle"), qPrintable(why));
        why = m_model->connectPorts({"pass", "pass", "model"});
        QVERIFY2(why.contains("own output"), qPrintable(why));
        // A multiple port takes several sources, but not the same one twice.
        QVERIFY(m_model->connectPorts({"src", "sink", "models"}).isEmpty());
        QVERIFY(m_model->connectPorts({"pass_2", "sink", "models"}).isEmpty());
        QVERIFY(m_model->connectPorts({"src", "sink", "models"}).contains("already connected"));
        QCOMPARE(*m_model->experiment().find("sink")->inputsOf("models"),
                 (std::vector<std::string>{"src", "pass_2"}));
        // connect, connect, disconnect, connect, connect: refusals push nothing.
        QCOMPARE(m_model->undoStack()->count(), commands + 4);
    }

    void deleteAndUndoRestoreExactly()
    {
        add("test.src"); add("test.pass"); add("test.sink");
        QVERIFY(m_model->connectPorts({"src", "pass", "model"}).isEmpty());
        QVERIFY(m_model->connectPorts({"pass", "sink", "models"}).isEmpty());
        m_model->setParam("pass", {"bits"}, 3);
        const std::string before = qb::toYaml(m_model->experiment());

        m_model->removeItems({"pass"}, {});
        const qb::Experiment &after = m_model->experiment();
        QCOMPARE(after.nodes.size(), size_t(2));
        QVERIFY(!after.find("pass"));
        QVERIFY(!after.layout.count("pass"));
        QVERIFY(after.find("sink")->inputs.empty()); // the dangling connection went with it
        const std::string deleted = qb::toYaml(after);

        m_model->undoStack()->undo();
        QCOMPARE(qb::toYaml(m_model->experiment()), before);
        m_model->undoStack()->redo();
        QCOMPARE(qb::toYaml(m_model->experiment()), deleted);
        m_model->undoStack()->undo();

        m_model->removeItems({}, {{"pass", "sink", "models"}});
        QVERIFY(m_model->experiment().find("sink")->inputs.empty());
        QVERIFY(m_model->experiment().find("pass")->inputsOf("model"));
        m_model->undoStack()->undo();
        QCOMPARE(qb::toYaml(m_model->experiment()), before);
    }

    void moveParamRenameAreUndoable()
    {
        add("test.src"); add("test.pass");
        QVERIFY(m_model->connectPorts({"src", "pass", "model"}).isEmpty());
        m_model->moveNodes({{"pass", QPointF(500, 70)}});
        QCOMPARE(m_model->position("pass"), QPointF(500, 70));
        m_model->undoStack()->undo();
        QCOMPARE(m_model->position("pass"), QPointF(0, 0));
        m_model->undoStack()->redo();

        m_model->setParam("pass", {"decoding", "max_new_tokens"}, 12);
        QCOMPARE_JSON(m_model->experiment().find("pass")->params,
                 json({{"decoding", {{"max_new_tokens", 12}}}}));
        m_model->undoStack()->undo();
        QCOMPARE_JSON(m_model->experiment().find("pass")->params, json::object());

        QVERIFY(m_model->renameNode("pass", "quant").isEmpty());
        QCOMPARE(*m_model->experiment().find("quant")->inputsOf("model"),
                 std::vector<std::string>{"src"});
        QCOMPARE(m_model->position("quant"), QPointF(500, 70));
        QVERIFY(m_model->renameNode("quant", "src").contains("already exists"));
        QVERIFY(m_model->renameNode("quant", "9bad").contains("must start"));
        m_model->undoStack()->undo();
        QVERIFY(m_model->experiment().find("pass"));
    }

    void copyPasteKeepsInternalConnections()
    {
        add("test.src"); add("test.pass"); add("test.sink");
        QVERIFY(m_model->connectPorts({"src", "pass", "model"}).isEmpty());
        QVERIFY(m_model->connectPorts({"pass", "sink", "models"}).isEmpty());
        m_model->setParam("pass", {"bits"}, 2);
        m_model->moveNodes({{"pass", QPointF(100, 50)}});
        const std::string clip = m_model->copyNodes({"pass", "sink"});
        QString error;
        const auto ids = m_model->pasteNodes(clip, QPointF(40, 40), &error);
        QVERIFY2(error.isEmpty(), qPrintable(error));
        QCOMPARE(ids, (std::vector<std::string>{"pass_2", "sink_2"}));
        const qb::Experiment &e = m_model->experiment();
        QCOMPARE_JSON(e.find("pass_2")->params, json({{"bits", 2}}));
        QVERIFY(e.find("pass_2")->inputs.empty()); // src was not copied
        QCOMPARE(*e.find("sink_2")->inputsOf("models"), std::vector<std::string>{"pass_2"});
        QCOMPARE(m_model->position("pass_2"), QPointF(140, 90));
        QVERIFY(m_model->pasteNodes("not json", {}, &error).empty());
        QVERIFY(!error.isEmpty());
    }

    void autoLayoutUsesDepth()
    {
        add("test.data"); add("test.src"); add("test.pass"); add("test.sink");
        QVERIFY(m_model->connectPorts({"src", "pass", "model"}).isEmpty());
        QVERIFY(m_model->connectPorts({"pass", "sink", "models"}).isEmpty());
        m_model->autoLayout();
        // Columns 250 + 70 apart, rows 130 apart; the first column has the model above the
        // dataset (the file lists the dataset first); single nodes sit centred on two rows.
        QCOMPARE(m_model->position("src"), QPointF(0, 0));
        QCOMPARE(m_model->position("data"), QPointF(0, 130));
        QCOMPARE(m_model->position("pass"), QPointF(320, 65));
        QCOMPARE(m_model->position("sink"), QPointF(640, 65));
        m_model->undoStack()->undo();
        QCOMPARE(m_model->position("sink"), QPointF(0, 0)); // where add() put it
    }

    void autoLayoutWrapsTallColumnsAndFollowsInputs()
    {
        add("test.src"); add("test.src");
        for (int i = 0; i < 8; ++i)
            add("test.pass");
        // pass is fed by the second model, pass_2 by the first: pass_2 goes above pass.
        QVERIFY(m_model->connectPorts({"src_2", "pass", "model"}).isEmpty());
        QVERIFY(m_model->connectPorts({"src", "pass_2", "model"}).isEmpty());
        for (int i = 3; i <= 8; ++i)
            QVERIFY(m_model->connectPorts({"src", "pass_" + std::to_string(i), "model"}).isEmpty());
        m_model->autoLayout();
        QVERIFY(m_model->position("pass_2").y() < m_model->position("pass").y());
        // Eight nodes in one column wrap into two sub-columns of four rows.
        std::map<double, int> perX;
        double lowest = 0;
        for (int i = 1; i <= 8; ++i) {
            const QPointF p = m_model->position(i == 1 ? "pass" : "pass_" + std::to_string(i));
            ++perX[p.x()];
            lowest = std::max(lowest, p.y());
        }
        QCOMPARE(perX, (std::map<double, int>{{320, 4}, {570, 4}}));
        QCOMPARE(lowest, 3 * 130.0);
        // The two models, centred on the four rows.
        QCOMPARE(m_model->position("src"), QPointF(0, 130));
        QCOMPARE(m_model->position("src_2"), QPointF(0, 260));
    }

    void projectsWithoutPositionsAreLaidOutOnOpen()
    {
        qb::Experiment e = m_model->experiment();
        for (const char *id : {"a", "b", "c"}) {
            qb::NodeDecl d;
            d.id = id;
            d.type = std::string(id) == "a" ? "test.src" : "test.pass";
            if (d.type == "test.pass")
                d.inputs.push_back({"model", {"a"}});
            e.nodes.push_back(d);
        }
        e.layout["b"] = {900, 900}; // one of three placed: the file is laid out as a whole
        m_model->reset(e);
        QCOMPARE(m_model->position("a").x(), 0.0);
        QCOMPARE(m_model->position("b").x(), 320.0);
        QCOMPARE(m_model->position("c").x(), 320.0);
        e.layout["a"] = {5, 5}; // two of three placed: only the third is placed
        m_model->reset(e);
        QCOMPARE(m_model->position("a"), QPointF(5, 5));
        QCOMPARE(m_model->position("b"), QPointF(900, 900));
        QCOMPARE(m_model->position("c").x(), 320.0);
    }

    void validationProblemsShowOnNodes()
    {
        qbui::GraphScene scene(m_model.get());
        add("test.sink");
        const auto &problems = m_model->problems();
        QVERIFY(problems.count("sink"));
        QVERIFY(problems.at("sink").join(' ').contains("missing required input 'models'"));
        QVERIFY(scene.nodeItem("sink")->toolTip().contains("missing required input"));
        // The tooltip says what each port carries.
        QVERIFY(scene.nodeItem("sink")->toolTip().contains("in <i>models</i>: model (several)"));
        QVERIFY(scene.nodeItem("sink")->toolTip().contains("out: evaluation"));
        add("test.src");
        QVERIFY(m_model->connectPorts({"src", "sink", "models"}).isEmpty());
        QVERIFY(!m_model->problems().count("sink"));
        QVERIFY(!scene.nodeItem("sink")->toolTip().contains("missing required input"));
    }

    void sceneMirrorsModelAndReportsRefusals()
    {
        qbui::GraphScene scene(m_model.get());
        QSignalSpy status(&scene, &qbui::GraphScene::statusMessage);
        add("test.src"); add("test.data"); add("test.pass");
        QVERIFY(scene.nodeItem("src") && scene.nodeItem("pass"));
        QVERIFY(!scene.connectByGesture({"data", "pass", "model"}));
        QVERIFY(status.last().at(0).toString().contains("port type mismatch"));
        QVERIFY(scene.connectByGesture({"src", "pass", "model"}));
        QCOMPARE(int(scene.edgeItems().size()), 1);
        m_model->undoStack()->undo();
        QCOMPARE(int(scene.edgeItems().size()), 0);
        m_model->undoStack()->undo(); // the add of pass
        QVERIFY(!scene.nodeItem("pass"));
    }

    void mouseDragConnectsPorts()
    {
        qbui::GraphScene scene(m_model.get());
        qbui::GraphView view(&scene);
        view.resize(900, 600);
        add("test.src", {0, 0});
        add("test.pass", {300, 0});
        view.show();
        view.centerOn(250, 50);
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        const QPoint from = view.mapFromScene(scene.nodeItem("src")->outputPortPos());
        const QPoint to = view.mapFromScene(scene.nodeItem("pass")->inputPortPos("model"));
        QTest::mousePress(view.viewport(), Qt::LeftButton, {}, from);
        QTest::mouseMove(view.viewport(), (from + to) / 2);
        QTest::mouseRelease(view.viewport(), Qt::LeftButton, {}, to);
        QVERIFY(m_model->experiment().find("pass")->inputsOf("model"));
        QCOMPARE(int(scene.edgeItems().size()), 1);
    }

    void inspectorShowsOnlyTheChosenMethodsParameters()
    {
        qbui::GraphModel model(qb::builtinRegistry());
        std::string id;
        QVERIFY(model.addNode("quantize", {0, 0}, &id).isEmpty());
        qbui::Inspector inspector(&model);
        inspector.showNode(QString::fromStdString(id));
        // nf4 (the default): block size and double quantization, no bits or GPTQ damping.
        QVERIFY(inspector.findChild<QSpinBox *>("param:block_size"));
        QVERIFY(inspector.findChild<QCheckBox *>("param:double_quant"));
        QVERIFY(!inspector.findChild<QSpinBox *>("param:bits"));
        QVERIFY(!inspector.findChild<QWidget *>("param:damp"));
        QVERIFY(inspector.findChild<QWidget *>("param:include")); // the node's own parameters
        auto *method = inspector.findChild<QComboBox *>("param:method");
        QVERIFY(method);
        const int gptq = method->findText("gptq");
        QVERIFY(gptq >= 0);
        method->setCurrentIndex(gptq);
        Q_EMIT method->activated(gptq);
        QTest::qWait(0); // the inspector rebuilds on the next event loop turn
        QVERIFY(inspector.findChild<QSpinBox *>("param:bits"));
        QVERIFY(inspector.findChild<QWidget *>("param:damp"));
        QVERIFY(!inspector.findChild<QSpinBox *>("param:block_size"));
    }

    void inspectorEditsAreUndoableCommands()
    {
        add("test.pass");
        qbui::Inspector inspector(m_model.get());
        inspector.showNode("pass");
        auto *bits = inspector.findChild<QSpinBox *>("param:bits");
        QVERIFY(bits);
        QCOMPARE(bits->minimum(), 2);
        QCOMPARE(bits->maximum(), 8);
        QCOMPARE(bits->value(), 4); // the default
        QVERIFY(bits->toolTip().contains("the bits"));
        bits->setValue(6);
        Q_EMIT bits->editingFinished();
        QCOMPARE_JSON(m_model->experiment().find("pass")->params["bits"], json(6));
        QTest::qWait(0); // the inspector rebuilds on the next event loop turn

        auto *method = inspector.findChild<QComboBox *>("param:method");
        QVERIFY(method);
        QCOMPARE(method->count(), 3);
        method->setCurrentIndex(2);
        Q_EMIT method->activated(2);
        QCOMPARE_JSON(m_model->experiment().find("pass")->params["method"], json("int4"));
        QTest::qWait(0);

        auto *maxNew = inspector.findChild<QSpinBox *>("param:decoding.max_new_tokens");
        QVERIFY(maxNew);
        QCOMPARE(maxNew->value(), 64);
        // Leaving an editor unchanged writes nothing.
        const int commands = m_model->undoStack()->count();
        Q_EMIT maxNew->editingFinished();
        QCOMPARE(m_model->undoStack()->count(), commands);

        auto *prompts = inspector.findChild<QLineEdit *>("param:prompts");
        QVERIFY(prompts);
        prompts->setText("a b,  c ,,d");
        Q_EMIT prompts->editingFinished();
        QCOMPARE_JSON(m_model->experiment().find("pass")->params["prompts"],
                 json({"a b", "c", "d"}));
        QVERIFY(inspector.findChild<QCheckBox *>("param:double_quant"));

        m_model->undoStack()->undo();
        m_model->undoStack()->undo();
        QCOMPARE_JSON(m_model->experiment().find("pass")->params, json({{"bits", 6}}));
        m_model->undoStack()->undo();
        QCOMPARE_JSON(m_model->experiment().find("pass")->params, json::object());
    }

    // The experiment form sets `arithmetic:`: the default (nothing written) or a value, undoably.
    void inspectorSetsTheExperimentsArithmetic()
    {
        qbui::Inspector inspector(m_model.get());
        inspector.showNode(QString());
        auto *activations = inspector.findChild<QComboBox *>("experiment:activations");
        auto *dense = inspector.findChild<QComboBox *>("experiment:dense");
        QVERIFY(activations && dense);
        QCOMPARE(activations->currentIndex(), 0);
        QCOMPARE(dense->count(), 3);
        // "default" names what the environment gives, not a switch a run holds meanwhile.
        if (!qEnvironmentVariableIsSet("QB_ACT_Q8")) {
            qb::setInt8ActivationKernels(true);
            inspector.showNode(QStringLiteral("x"));
            inspector.showNode(QString());
            qb::setInt8ActivationKernels(false);
            activations = inspector.findChild<QComboBox *>("experiment:activations");
            QCOMPARE(activations->itemText(0), QStringLiteral("default (float)"));
        }
        QVERIFY(m_model->experiment().arithmetic.empty());
        activations->setCurrentIndex(2);
        Q_EMIT activations->activated(2);
        QCOMPARE(m_model->experiment().arithmetic.int8Activations, std::optional<bool>(true));
        QVERIFY(!m_model->experiment().arithmetic.bf16Dense);
        QVERIFY(qb::toYaml(m_model->experiment()).find("arithmetic: {activations: int8}")
                != std::string::npos);
        QTest::qWait(0);
        dense = inspector.findChild<QComboBox *>("experiment:dense");
        dense->setCurrentIndex(1);
        Q_EMIT dense->activated(1);
        QCOMPARE(m_model->experiment().arithmetic.bf16Dense, std::optional<bool>(false));
        QTest::qWait(0);
        QCOMPARE(inspector.findChild<QComboBox *>("experiment:activations")->currentIndex(), 2);
        m_model->undoStack()->undo();
        m_model->undoStack()->undo();
        QVERIFY(m_model->experiment().arithmetic.empty());
    }

private:
    void add(const std::string &type, QPointF pos = {})
    {
        QVERIFY(m_model->addNode(type, pos).isEmpty());
    }

    qb::NodeRegistry m_registry = makeRegistry();
    std::unique_ptr<qbui::GraphModel> m_model;
};

QTEST_MAIN(TestGraphEditor)
#include "tst_graph_editor.moc"
