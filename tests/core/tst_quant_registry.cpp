// The table of quantization methods (quant/method_registry.h): the quantize node's parameters
// come from it unchanged, labels and override strings keep their hand-written forms, every
// method's op survives config()/tensors() and the table's load bit for bit, unknown names are
// errors that name them, and QuantizedLinear's forward takes a fused path only for few rows.
// Torch work happens in quant_registry_probe.cpp.
#include "api/registry.h"
#include "quant_registry_probe.h"
#include "util/error.h"

#include <QtTest>

#include <map>
#include <set>

namespace {

QString q(const std::string &s) { return QString::fromStdString(s); }

// The message of the qb::Error that f throws, or "" when it throws none.
template <class F>
std::string errorOf(F f)
{
    try {
        f();
    } catch (const qb::Error &e) {
        return e.what();
    }
    return {};
}

const std::vector<std::string> kMethods
    = {"int8", "llm_int8", "nf4", "fp4", "int", "gptq", "awq", "fp8", "smoothquant"};

// One spec per method with settings away from the defaults where the method has any.
const std::vector<std::string> kSpecs = {
    R"({"method": "int8"})",
    R"({"method": "llm_int8", "threshold": 3.5})",
    R"({"method": "nf4", "block_size": 128, "double_quant": true})",
    R"({"method": "fp4", "block_size": 32})",
    R"({"method": "int", "bits": 3, "group_size": 32, "symmetric": true})",
    R"({"method": "gptq", "bits": 4, "group_size": 16, "act_order": true, "damp": 0.05})",
    R"({"method": "awq", "bits": 4, "group_size": 32, "clip_search": false})",
    R"({"method": "fp8"})",
    R"({"method": "smoothquant", "alpha": 0.75})",
};

} // namespace

class TestQuantRegistry : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void nodeParametersAreTodays()
    {
        const qb::NodeSpec *node = qb::builtinRegistry().find("quantize");
        QVERIFY(node);
        // As the node listed them by hand before the table (names, kinds, defaults, order).
        struct Want
        {
            std::string name;
            qb::ParamKind kind;
            nlohmann::json def;
        };
        using K = qb::ParamKind;
        const std::vector<Want> want = {
            {"method", K::Enum, "nf4"},         {"bits", K::Int, 4},
            {"group_size", K::Int, 128},        {"block_size", K::Int, 64},
            {"double_quant", K::Bool, false},   {"symmetric", K::Bool, false},
            {"threshold", K::Float, 6.0},       {"act_order", K::Bool, false},
            {"static_groups", K::Bool, false},  {"damp", K::Float, 0.01},
            {"alpha", K::Float, 0.5},           {"clip_search", K::Bool, true},
            {"act_bits", K::Int, 0},            {"shared_scales", K::Bool, false},
            {"include", K::StringList, nlohmann::json::array()},
            {"exclude", K::StringList, nlohmann::json::array()},
            {"overrides", K::StringList, nlohmann::json::array()},
            {"max_calibration_rows", K::Int, 2048},
            {"calibration", K::Object, nullptr}};
        QCOMPARE(node->params.size(), want.size());
        for (size_t i = 0; i < want.size(); ++i) {
            const qb::ParamSpec &p = node->params[i];
            QCOMPARE(q(p.name), q(want[i].name));
            QVERIFY2(p.kind == want[i].kind, p.name.c_str());
            QCOMPARE(q(p.defaultValue.dump()), q(want[i].def.dump()));
        }
        QCOMPARE(node->param("method")->choices, kMethods);
        QCOMPARE(*node->param("bits")->min, 2.0);
        QCOMPARE(*node->param("bits")->max, 8.0);
        QCOMPARE(*node->param("block_size")->min, 32.0);
        QCOMPARE(*node->param("alpha")->max, 1.0);
        QCOMPARE(q(node->param("bits")->description),
                 QString("int / gptq / awq: bits per weight (2, 3, 4 or 8)"));
        QCOMPARE(q(node->param("threshold")->description),
                 QString("llm_int8: inputs with |x| >= threshold go through float32"));
    }

    void everyMethodsParametersAreShownOnlyForIt()
    {
        const qb::NodeSpec *node = qb::builtinRegistry().find("quantize");
        const auto methods = qbprobe::quantMethods();
        std::vector<std::string> names;
        std::map<std::string, std::vector<std::string>> users;
        for (const auto &m : methods) {
            names.push_back(m.name);
            for (const auto &p : m.params)
                users[p].push_back(m.name);
        }
        QCOMPARE(names, kMethods);
        QCOMPARE(node->param("method")->choices, names);
        // Independent expectation: which method uses which parameter.
        const std::map<std::string, std::vector<std::string>> want = {
            {"bits", {"int", "gptq", "awq"}},      {"group_size", {"int", "gptq", "awq"}},
            {"symmetric", {"int", "gptq", "awq"}}, {"block_size", {"nf4", "fp4"}},
            {"double_quant", {"nf4", "fp4"}},      {"threshold", {"llm_int8"}},
            {"act_order", {"gptq"}},               {"static_groups", {"gptq"}},
            {"damp", {"gptq"}},                    {"alpha", {"smoothquant"}},
            {"clip_search", {"awq"}},              {"shared_scales", {"awq"}},
            {"act_bits", {"int8", "nf4", "fp4", "int", "gptq", "awq"}}};
        QCOMPARE(users, want);
        for (const auto &[param, who] : users) {
            const qb::ParamSpec *p = node->param(param);
            QVERIFY2(p, param.c_str());
            QCOMPARE(q(p->shownWhen), QString("method"));
            QCOMPARE(p->shownFor, who);
            for (const auto &m : kMethods)
                QCOMPARE(p->appliesTo({{"method", m}}),
                         std::find(who.begin(), who.end(), m) != who.end());
        }
        for (const char *own : {"method", "include", "exclude", "overrides", "calibration"})
            QVERIFY2(node->param(own)->shownWhen.empty(), own);
        std::set<std::string> calibrated;
        for (const auto &m : methods)
            if (m.calibrated)
                calibrated.insert(m.name);
        QCOMPARE(calibrated, (std::set<std::string>{"gptq", "awq", "smoothquant"}));
    }

    void labelsAreTheHandWrittenOnes()
    {
        const std::vector<std::pair<std::string, std::string>> cases = {
            {R"({"method": "int8"})", "int8"},
            {R"({"method": "llm_int8"})", "llm_int8-t6"},
            {R"({"method": "llm_int8", "threshold": 3.5})", "llm_int8-t3.5"},
            {R"({"method": "nf4"})", "nf4-b64"},
            {R"({"method": "nf4", "block_size": 64, "double_quant": true})", "nf4-dq-b64"},
            {R"({"method": "fp4", "block_size": 128})", "fp4-b128"},
            {R"({"method": "int", "bits": 4, "group_size": 128, "symmetric": true})", "int4-g128"},
            {R"({"method": "int", "bits": 3})", "int3-g128-asym"},
            {R"({"method": "int", "bits": 8, "group_size": 0, "symmetric": true})", "int8-pc"},
            {R"({"method": "gptq", "symmetric": true, "act_order": true})", "gptq-int4-g128-act"},
            {R"({"method": "gptq", "static_groups": true})", "gptq-int4-g128-asym-static"},
            {R"({"method": "awq", "symmetric": true})", "awq-int4-g128"},
            {R"({"method": "awq", "clip_search": false})", "awq-int4-g128-asym-noclip"},
            {R"({"method": "awq", "shared_scales": true})", "awq-int4-g128-asym-shared"},
            {R"({"method": "fp8"})", "fp8-e4m3"},
            {R"({"method": "smoothquant"})", "smoothquant-w8a8-a0.5"},
            {R"({"method": "smoothquant", "alpha": 0.75})", "smoothquant-w8a8-a0.75"},
        };
        for (const auto &[spec, label] : cases)
            QCOMPARE(q(qbprobe::label(spec)), q(label));
    }

    void specsReadOnlyTheirOwnKeys()
    {
        // Other methods' keys are ignored; toJson fills every parameter (defaults for the rest).
        const auto j = nlohmann::json::parse(
            qbprobe::specJson(R"({"method": "nf4", "bits": 3, "block_size": 128})"));
        QCOMPARE(j.at("method").get<std::string>(), std::string("nf4"));
        QCOMPARE(j.at("block_size").get<int>(), 128);
        QCOMPARE(j.at("bits").get<int>(), 4);
        QCOMPARE(j.size(), size_t(14));
        // A float parameter given as an integer reads as a float.
        QCOMPARE(q(qbprobe::label(R"({"method": "llm_int8", "threshold": 6})")),
                 QString("llm_int8-t6"));
    }

    void eachMethodReloadsBitIdentical_data()
    {
        QTest::addColumn<QString>("spec");
        for (const auto &s : kSpecs)
            QTest::newRow(s.c_str()) << q(s);
        QTest::newRow("int8-pc sym") << QString(R"({"method": "int", "bits": 8, "group_size": 0,
                                                   "symmetric": true})");
    }
    void eachMethodReloadsBitIdentical()
    {
        QFETCH(QString, spec);
        const std::string mismatch = qbprobe::reloadMismatch(spec.toStdString());
        QVERIFY2(mismatch.empty(), mismatch.c_str());
    }

    void everyMethodIsCovered()
    {
        std::set<std::string> covered;
        for (const auto &s : kSpecs)
            covered.insert(nlohmann::json::parse(s).at("method").get<std::string>());
        QCOMPARE(covered, std::set<std::string>(kMethods.begin(), kMethods.end()));
    }

    void overrideStringsParseBack()
    {
        for (const auto &s : kSpecs) {
            const std::string text = qbprobe::overrideString("model.layers.0.mlp.up_proj", s);
            QCOMPARE(q(qbprobe::parseOverride(text)), q(qbprobe::specJson(s)));
        }
        for (const auto &m : kMethods) {
            const std::string s = nlohmann::json{{"method", m}}.dump();
            QCOMPARE(q(qbprobe::parseOverride(qbprobe::overrideString("lm_head", s))),
                     q(qbprobe::specJson(s)));
        }
    }

    void overrideStringsKeepTheirForm()
    {
        // The strings analyze.sensitivity wrote before the table.
        QCOMPARE(q(qbprobe::overrideString("L", R"({"method": "int8"})")),
                 QString("L: method=int8"));
        QCOMPARE(q(qbprobe::overrideString("L", R"({"method": "int", "bits": 8, "group_size": 0})")),
                 QString("L: method=int bits=8 group_size=0 symmetric=false"));
        QCOMPARE(q(qbprobe::overrideString("L", R"({"method": "nf4"})")),
                 QString("L: method=nf4 block_size=64 double_quant=false"));
        QCOMPARE(q(qbprobe::overrideString("L", R"({"method": "llm_int8"})")),
                 QString("L: method=llm_int8 threshold=6.0"));
        QCOMPARE(q(qbprobe::overrideString("L", R"({"method": "gptq"})")),
                 QString("L: method=gptq bits=4 group_size=128 symmetric=false act_order=false "
                         "static_groups=false damp=0.01"));
        QCOMPARE(q(qbprobe::overrideString("L", R"({"method": "awq"})")),
                 QString("L: method=awq bits=4 group_size=128 symmetric=false clip_search=true "
                         "shared_scales=false"));
        QCOMPARE(q(qbprobe::overrideString("L", R"({"method": "int", "act_bits": 4})")),
                 QString("L: method=int bits=4 group_size=128 symmetric=false act_bits=4"));
        QCOMPARE(q(qbprobe::overrideString("L", R"({"method": "smoothquant"})")),
                 QString("L: method=smoothquant alpha=0.5"));
    }

    void unknownNamesAreErrorsNamingThem()
    {
        std::string e = errorOf([] { qbprobe::label(R"({"method": "int9"})"); });
        QVERIFY2(e.find("unknown method 'int9'") != std::string::npos, e.c_str());
        QVERIFY2(e.find("smoothquant") != std::string::npos, e.c_str()); // lists the known ones
        e = errorOf([] { qbprobe::parseOverride("*.q_proj: method=int bogus=1"); });
        QVERIFY2(e.find("overrides[0]: unknown key 'bogus'") != std::string::npos, e.c_str());
        e = errorOf([] { qbprobe::parseOverride("*.q_proj: method=int5"); });
        QVERIFY2(e.find("unknown method 'int5'") != std::string::npos, e.c_str());
        e = errorOf([] { qbprobe::label(R"({"method": "int", "bits": "four"})"); });
        QVERIFY2(e.find("bits must be an integer") != std::string::npos, e.c_str());
        e = errorOf([] { qbprobe::label(R"({"method": "int", "bits": 5})"); });
        QVERIFY2(e.find("bits 5 is not supported") != std::string::npos, e.c_str());
        e = errorOf([] { qbprobe::label(R"({"method": "nf4", "block_size": 33})"); });
        QVERIFY2(e.find("block_size 33 must be even") != std::string::npos, e.c_str());
    }

    void panelGemmHasTheBitsOfDequantizePlusGemm_data()
    {
        QTest::addColumn<QString>("spec");
        QTest::newRow("int8") << QString(R"({"method": "int8"})");
        QTest::newRow("int4-g64") << QString(R"({"method": "int", "bits": 4, "group_size": 64})");
        QTest::newRow("int3-g64-sym")
            << QString(R"({"method": "int", "bits": 3, "group_size": 64, "symmetric": true})");
        QTest::newRow("nf4-dq-b64")
            << QString(R"({"method": "nf4", "block_size": 64, "double_quant": true})");
        QTest::newRow("fp4-b64") << QString(R"({"method": "fp4", "block_size": 64})");
    }
    void panelGemmHasTheBitsOfDequantizePlusGemm()
    {
        QFETCH(QString, spec);
        const std::string mismatch = qbprobe::panelGemmMismatch(spec.toStdString());
        QVERIFY2(mismatch.empty(), mismatch.c_str());
    }

    void forwardFallsBackWhenTheFusedPathDeclines()
    {
        const qbprobe::SeamRun r = qbprobe::fusedSeam();
        QVERIFY(r.fused1);
        QVERIFY(r.fused6);
        QVERIFY(!r.fused100);
        QVERIFY2(r.referenceDiff < 1e-5, std::to_string(r.referenceDiff).c_str());
        QVERIFY(r.referenceExactUnfused);
        QVERIFY(!r.fusedWithGrad);
    }
};

QTEST_MAIN(TestQuantRegistry)
#include "tst_quant_registry.moc"
