// Experiment files: parsing, validation errors that name file, line and key path, round trip
// through toYaml, and execution order. Uses a small registry defined here.
#include "api/experiment.h"
#include "support/test_support.h"
#include "util/error.h"

#include <QtTest>

using nlohmann::json;

namespace {

qb::NodeRegistry testRegistry()
{
    qb::NodeRegistry r;
    qb::NodeSpec src;
    src.type = "src";
    src.outputType = "model";
    qb::ParamSpec size{"size", qb::ParamKind::Int, 64, "", 1.0, 4096.0};
    qb::ParamSpec method{"method", qb::ParamKind::Enum, "nf4", ""};
    method.choices = {"nf4", "fp4", "int8"};
    qb::ParamSpec scale{"scale", qb::ParamKind::Float, 1.0, "", 0.0, std::nullopt};
    qb::ParamSpec label{"label", qb::ParamKind::String, "", ""};
    qb::ParamSpec flag{"flag", qb::ParamKind::Bool, false, ""};
    qb::ParamSpec nested{"decoding", qb::ParamKind::Object, nullptr, ""};
    nested.fields = {{"max_new_tokens", qb::ParamKind::Int, 16, "", 1.0, std::nullopt}};
    const qb::ParamSpec temps = qb::ParamSpec::realList("temps", {0.0}, "").range(0.0, 2.0);
    const qb::ParamSpec ks = qb::ParamSpec::intList("ks", {1}, "").atLeast(1);
    src.params = {size, method, scale, label, flag, nested, temps, ks};
    r.add(src);
    qb::NodeSpec data;
    data.type = "data";
    data.outputType = "dataset";
    r.add(data);
    qb::NodeSpec eval;
    eval.type = "eval";
    eval.outputType = "evaluation";
    eval.inputs = {{"models", "model", true, false, ""}, {"data", "dataset", false, false, ""}};
    r.add(eval);
    qb::NodeSpec chain;
    chain.type = "chain";
    chain.outputType = "model";
    chain.inputs = {{"model", "model", false, false, ""}};
    r.add(chain);
    return r;
}

const char *kValid = R"(schema_version: 1
name: t
seed: 7
nodes:
  - {id: a, type: src, params: {size: 128, method: fp4, scale: 0.5, label: "64", flag: true, decoding: {max_new_tokens: 32}}}
  - {id: g, type: src, params: {label: "*.mlp.*"}}
  - id: d
    type: data
  - {id: e, type: eval, inputs: {models: [a, b], data: d}}
  - {id: b, type: chain, inputs: {model: a}}
layout: {a: [0, 0], b: [10.5, -3]}
)";

QString errorOf(const std::string &yaml)
{
    try {
        qb::parseExperiment(yaml, "exp.yaml", testRegistry());
    } catch (const qb::Error &e) {
        return QString::fromStdString(e.what());
    }
    return {};
}

} // namespace

class TestExperiment : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void parsesValidFile()
    {
        const auto exp = qb::parseExperiment(kValid, "exp.yaml", testRegistry());
        QCOMPARE(exp.name, std::string("t"));
        QCOMPARE(exp.seed, uint64_t(7));
        QCOMPARE(exp.nodes.size(), size_t(5));
        QCOMPARE(exp.nodes[0].params["size"].get<int>(), 128);
        QVERIFY(exp.nodes[0].params["label"].is_string()); // quoted "64" stays text
        QCOMPARE(exp.nodes[0].params["scale"].get<double>(), 0.5);
        QCOMPARE(exp.nodes[3].line, 9); // "  - {id: e, ..." is the 9th line
        QCOMPARE(*exp.nodes[3].inputsOf("models"), (std::vector<std::string>{"a", "b"}));
        QCOMPARE(exp.layout.at("b")[0], 10.5);
        QCOMPARE(exp.layout.at("b")[1], -3.0);
    }

    void executionOrderRespectsInputsThenFileOrder()
    {
        const auto exp = qb::parseExperiment(kValid, "exp.yaml", testRegistry());
        QCOMPARE(qb::executionOrder(exp), (std::vector<std::string>{"a", "g", "d", "b", "e"}));
        QCOMPARE(qb::executionOrder(exp, "b"), (std::vector<std::string>{"a", "b"}));
    }

    void roundTripsThroughYaml()
    {
        const auto exp = qb::parseExperiment(kValid, "exp.yaml", testRegistry());
        const std::string text = qb::toYaml(exp);
        const auto again = qb::parseExperiment(text, "again.yaml", testRegistry());
        QCOMPARE(again.nodes.size(), exp.nodes.size());
        for (size_t i = 0; i < exp.nodes.size(); ++i) {
            QCOMPARE(again.nodes[i].id, exp.nodes[i].id);
            QCOMPARE(again.nodes[i].type, exp.nodes[i].type);
            QCOMPARE(again.nodes[i].params, exp.nodes[i].params);
            QCOMPARE(again.nodes[i].inputs, exp.nodes[i].inputs);
        }
        QCOMPARE(again.layout, exp.layout);
        QCOMPARE(again.seed, exp.seed);
        QCOMPARE(qb::toYaml(again), text);
    }

    // `groups:` (the editor's frames) reads back exactly; a file without it has none and
    // writes none, so old files keep their text.
    void groupsRoundTripAndOldFilesStayAsTheyWere()
    {
        const std::string withGroups = std::string(kValid)
            + "groups:\n  - {title: \"8-bit: a & b\", nodes: [a, b], collapsed: true}\n"
              "  - {title: data, nodes: [d]}\n";
        const auto exp = qb::parseExperiment(withGroups, "exp.yaml", testRegistry());
        QCOMPARE(exp.groups.size(), size_t(2));
        QCOMPARE(exp.groups[0].title, std::string("8-bit: a & b"));
        QCOMPARE(exp.groups[0].nodes, (std::vector<std::string>{"a", "b"}));
        QVERIFY(exp.groups[0].collapsed);
        QVERIFY(!exp.groups[1].collapsed);
        const auto again = qb::parseExperiment(qb::toYaml(exp), "again.yaml", testRegistry());
        QVERIFY(again.groups == exp.groups);
        QCOMPARE(qb::toYaml(again), qb::toYaml(exp));
        // Groups change nothing the core runs by.
        const auto plain = qb::parseExperiment(kValid, "exp.yaml", testRegistry());
        QCOMPARE(qb::executionOrder(exp), qb::executionOrder(plain));
        QVERIFY(plain.groups.empty());
        QVERIFY(qb::toYaml(plain).find("groups") == std::string::npos);
        QCOMPARE(qb::toYaml(exp).substr(0, qb::toYaml(plain).size()), qb::toYaml(plain));
    }

    // `arithmetic:` reads back as written; a file without it has none and writes none.
    void arithmeticRoundTripsAndOldFilesStayAsTheyWere()
    {
        const std::string head = "schema_version: 1\nname: t\nseed: 2\n";
        const std::string nodes = "nodes:\n  - {id: a, type: src}\n";
        const auto both = qb::parseExperiment(head + "arithmetic: {activations: int8, dense: bf16}\n"
                                                  + nodes, "exp.yaml", testRegistry());
        QCOMPARE(both.arithmetic.int8Activations, std::optional<bool>(true));
        QCOMPARE(both.arithmetic.bf16Dense, std::optional<bool>(true));
        const auto one = qb::parseExperiment(head + "arithmetic: {activations: float}\n" + nodes,
                                             "exp.yaml", testRegistry());
        QCOMPARE(one.arithmetic.int8Activations, std::optional<bool>(false));
        QVERIFY(!one.arithmetic.bf16Dense);
        for (const auto *e : {&both, &one}) {
            const auto again = qb::parseExperiment(qb::toYaml(*e), "again.yaml", testRegistry());
            QVERIFY(again.arithmetic == e->arithmetic);
            QCOMPARE(qb::toYaml(again), qb::toYaml(*e));
        }
        QVERIFY(qb::toYaml(one).find("arithmetic: {activations: float}") != std::string::npos);
        const auto plain = qb::parseExperiment(head + nodes, "exp.yaml", testRegistry());
        QVERIFY(plain.arithmetic.empty());
        QVERIFY(qb::toYaml(plain).find("arithmetic") == std::string::npos);
    }

    void arithmeticErrorsNamePathAndLine_data()
    {
        QTest::addColumn<QString>("arithmetic");
        QTest::addColumn<QString>("expected");
        QTest::newRow("activations") << "arithmetic: {activations: int4}\n"
                                     << "exp.yaml:3: arithmetic.activations: expected float (the "
                                        "default) or int8";
        QTest::newRow("dense") << "arithmetic:\n  dense: fp16\n"
                               << "exp.yaml:4: arithmetic.dense: expected fp32 (the default) or bf16";
        QTest::newRow("unknown key") << "arithmetic: {weights: int8}\n"
                                     << "arithmetic.weights: unknown key 'weights' (arithmetic has "
                                        "activations, dense)";
        QTest::newRow("not a mapping") << "arithmetic: int8\n"
                                       << "exp.yaml:3: arithmetic: expected a mapping";
    }

    void arithmeticErrorsNamePathAndLine()
    {
        QFETCH(QString, arithmetic);
        QFETCH(QString, expected);
        const QString error = errorOf("schema_version: 1\nname: t\n" + arithmetic.toStdString()
                                      + "nodes:\n  - {id: a, type: src}\n");
        QVERIFY2(error.contains(expected), qPrintable(error));
    }

    void groupErrorsNamePathAndLine_data()
    {
        QTest::addColumn<QString>("groups");
        QTest::addColumn<QString>("expected");
        QTest::newRow("unknown node") << "groups:\n  - {title: x, nodes: [a, zz]}\n"
                                      << "exp.yaml:13: groups[0].nodes: no node with id 'zz'";
        QTest::newRow("twice") << "groups:\n  - {title: x, nodes: [a]}\n  - {title: y, nodes: [a]}\n"
                               << "groups[1].nodes: node 'a' is already in groups[0]";
        QTest::newRow("bad key") << "groups:\n  - {title: x, nodes: [a], open: true}\n"
                                 << "groups[0].open: unknown key 'open'";
        QTest::newRow("bad collapsed") << "groups:\n  - {title: x, nodes: [a], collapsed: 3}\n"
                                       << "groups[0].collapsed: expected true or false";
        QTest::newRow("not a list") << "groups: {a: 1}\n" << "groups: expected a list";
    }

    void groupErrorsNamePathAndLine()
    {
        QFETCH(QString, groups);
        QFETCH(QString, expected);
        const QString error = errorOf(kValid + groups.toStdString());
        QVERIFY2(error.contains(expected), qPrintable(error));
    }

    void errorsNameLineAndPath_data()
    {
        QTest::addColumn<QString>("yaml");
        QTest::addColumn<QString>("expected");
        const QString head = "schema_version: 1\nname: t\nnodes:\n";
        QTest::newRow("unknown top key") << head + "  - {id: a, type: src}\nbogus: 1\n"
                                         << "exp.yaml:5: bogus: unknown key 'bogus'";
        QTest::newRow("unknown param") << head + "  - id: a\n    type: src\n    params:\n      sise: 3\n"
                                       << "exp.yaml:7: nodes[0].params.sise: unknown parameter 'sise' for node 'a' (src)";
        QTest::newRow("wrong type") << head + "  - {id: a, type: src, params: {size: abc}}\n"
                                    << "exp.yaml:4: nodes[0].params.size: expected an integer, got 'abc'";
        QTest::newRow("quoted number is text") << head + "  - {id: a, type: src, params: {size: \"64\"}}\n"
                                               << "nodes[0].params.size: expected an integer, got '64'";
        QTest::newRow("float for int") << head + "  - {id: a, type: src, params: {size: 2.5}}\n"
                                       << "nodes[0].params.size: expected an integer, got 2.5";
        QTest::newRow("below minimum") << head + "  - {id: a, type: src, params: {size: 0}}\n"
                                       << "nodes[0].params.size: 0 is below the minimum 1";
        QTest::newRow("enum") << head + "  - {id: a, type: src, params: {method: nf5}}\n"
                              << "'nf5' is not one of nf4, fp4, int8";
        QTest::newRow("bool") << head + "  - {id: a, type: src, params: {flag: maybe}}\n"
                              << "nodes[0].params.flag: expected true or false, got 'maybe'";
        QTest::newRow("nested unknown") << head + "  - {id: a, type: src, params: {decoding: {max_tokens: 3}}}\n"
                                        << "nodes[0].params.decoding.max_tokens: unknown parameter";
        QTest::newRow("number list item") << head + "  - {id: a, type: src, params: {temps: [0, hot]}}\n"
                                          << "nodes[0].params.temps[1]: expected a number, got 'hot'";
        QTest::newRow("number list range") << head + "  - {id: a, type: src, params: {temps: [0.5, 2.5]}}\n"
                                           << "nodes[0].params.temps[1]: 2.5 is above the maximum 2";
        QTest::newRow("int list float") << head + "  - {id: a, type: src, params: {ks: [1, 2.5]}}\n"
                                        << "nodes[0].params.ks[1]: expected an integer, got 2.5";
        QTest::newRow("int list below") << head + "  - {id: a, type: src, params: {ks: [0]}}\n"
                                        << "nodes[0].params.ks[0]: 0 is below the minimum 1";
        QTest::newRow("number list scalar") << head + "  - {id: a, type: src, params: {temps: 0.7}}\n"
                                            << "nodes[0].params.temps: expected a list of numbers, got 0.7";
        QTest::newRow("unknown type") << head + "  - {id: a, type: quantise}\n"
                                      << "nodes[0].type: unknown node type 'quantise'";
        QTest::newRow("unknown node key") << head + "  - {id: a, type: src, param: {}}\n"
                                          << "nodes[0].param: unknown key 'param'";
        QTest::newRow("dangling input") << head + "  - {id: d, type: data}\n  - {id: e, type: eval, inputs: {models: x, data: d}}\n"
                                        << "exp.yaml:5: nodes[1].inputs.models: no node with id 'x'";
        QTest::newRow("port type") << head + "  - {id: d, type: data}\n  - {id: e, type: eval, inputs: {models: d, data: d}}\n"
                                   << "'d' gives a dataset, input 'models' needs a model";
        QTest::newRow("missing input") << head + "  - {id: d, type: data}\n  - {id: e, type: eval, inputs: {data: d}}\n"
                                       << "missing required input 'models' (model)";
        QTest::newRow("single port, two sources") << head + "  - {id: a, type: src}\n  - {id: d, type: data}\n  - {id: c, type: chain, inputs: {model: [a, a]}}\n"
                                                  << "input 'model' takes one connection, got 2";
        QTest::newRow("duplicate id") << head + "  - {id: a, type: src}\n  - {id: a, type: data}\n"
                                      << "nodes[1].id: duplicate node id 'a'";
        QTest::newRow("cycle") << head + "  - {id: a, type: chain, inputs: {model: b}}\n  - {id: b, type: chain, inputs: {model: a}}\n"
                               << "cycle";
        QTest::newRow("schema") << QString("schema_version: 2\nname: t\nnodes: []\n")
                                << "exp.yaml:1: schema_version: version 2 is not supported";
        QTest::newRow("bad yaml") << QString("schema_version: 1\nnodes: [\n  {id: a\n")
                                  << "exp.yaml:4:1: invalid YAML";
        QTest::newRow("not a mapping") << QString("- 1\n- 2\n") << "must be a mapping";
    }

    void errorsNameLineAndPath()
    {
        QFETCH(QString, yaml);
        QFETCH(QString, expected);
        const QString err = errorOf(yaml.toStdString());
        QVERIFY2(err.contains(expected), qPrintable("got: " + err));
    }

    void reportsEveryProblemAtOnce()
    {
        const QString err = errorOf("schema_version: 1\nname: t\nnodes:\n"
                                    "  - {id: a, type: src, params: {size: x, method: y}}\n");
        QVERIFY2(err.contains("params.size") && err.contains("params.method"), qPrintable(err));
    }

    void validatesInMemoryEdits()
    {
        auto exp = qb::parseExperiment(kValid, "exp.yaml", testRegistry());
        QVERIFY(qb::validateExperiment(exp, testRegistry()).empty());
        exp.find("a")->params["size"] = 99999;
        const auto diags = qb::validateExperiment(exp, testRegistry());
        QCOMPARE(diags.size(), size_t(1));
        QCOMPARE(diags[0].path, std::string("nodes[0].params.size"));
    }

    void resolvesDefaults()
    {
        const auto reg = testRegistry();
        const json p = qb::resolveParams(*reg.find("src"), json{{"size", 8}});
        QCOMPARE(p["size"].get<int>(), 8);
        QCOMPARE(p["method"].get<std::string>(), std::string("nf4"));
        QCOMPARE(p["decoding"]["max_new_tokens"].get<int>(), 16);
    }
};

QTEST_GUILESS_MAIN(TestExperiment)
#include "tst_experiment.moc"
