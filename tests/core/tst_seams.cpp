// The core's std-only seams: the ParamSpec builder and per-choice visibility, WorkHooks slicing,
// typed result rows, and the connection rules shared by the YAML validator and the GUI.
#include "api/experiment.h"
#include "api/graph_rules.h"
#include "api/registry.h"
#include "api/results.h"
#include "api/work.h"
#include "support/error_of.h"

#include <QtTest>

using nlohmann::json;

class TestSeams : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void builderSetsKindDefaultRangeAndChoices()
    {
        const auto p = qb::ParamSpec::integer("batch_size", 32, "rows").range(1, 1024);
        QVERIFY(p.kind == qb::ParamKind::Int);
        QCOMPARE(p.defaultValue.get<int>(), 32);
        QCOMPARE(*p.min, 1.0);
        QCOMPARE(*p.max, 1024.0);
        QVERIFY(!p.optional);
        const auto c = qb::ParamSpec::choice("m", "b", {"a", "b"}, "pick");
        QVERIFY(c.kind == qb::ParamKind::Enum);
        QCOMPARE(c.choices.size(), size_t(2));
        QCOMPARE(c.defaultValue.get<std::string>(), std::string("b"));
        const auto l = qb::ParamSpec::stringList("include", "globs");
        QVERIFY(l.defaultValue.is_array() && l.defaultValue.empty());
        const auto r = qb::ParamSpec::required("path", qb::ParamKind::Path, "folder");
        QVERIFY(r.defaultValue.is_null());
        QVERIFY(r.optionalValue().optional);
    }

    void onlyWhenAppliesToTheNamedChoices()
    {
        const auto p = qb::ParamSpec::integer("block_size", 64, "").onlyWhen("method", {"nf4", "fp4"});
        QVERIFY(p.appliesTo(json{{"method", "nf4"}}));
        QVERIFY(p.appliesTo(json{{"method", "fp4"}}));
        QVERIFY(!p.appliesTo(json{{"method", "int"}}));
        QVERIFY(p.appliesTo(json::object())); // unknown: shown
        QVERIFY(qb::ParamSpec::integer("x", 1, "").appliesTo(json{{"method", "int"}}));
    }

    void workHooksSliceMapsIntoTheOuterTotal()
    {
        std::vector<std::pair<double, double>> seen;
        qb::WorkHooks h;
        h.progress = [&](double done, double total, const std::string &) {
            seen.emplace_back(done, total);
        };
        // The second of four equal parts (25..50 of 100): inner 3 of 6 is 37.5 of 100.
        h.slice(25, 25, 100).report(3, 6);
        QCOMPARE(seen.size(), size_t(1));
        QCOMPARE(seen[0].first, 37.5);
        QCOMPARE(seen[0].second, 100.0);
        qb::WorkHooks empty; // every hook may be empty
        empty.report(1, 2);
        empty.say("x");
        empty.poll();
        empty.slice(0, 1, 2).report(1, 1);
    }

    void evalRowRoundTripsAndRejectsOtherRows()
    {
        qb::EvalRow r;
        r.model = "nf4";
        r.label = "nf4-b64";
        r.task = "gsm8k";
        r.n = 500;
        r.accuracy = 0.9;
        r.ciLow = 0.87;
        r.ciHigh = 0.92;
        r.weightBytes = 123456;
        r.stepAccuracy = 0.95;
        const json j = r.toJson();
        QCOMPARE(j["ci_low"].get<double>(), 0.87);
        QCOMPARE(j["weight_bytes"].get<int64_t>(), int64_t(123456));
        const qb::EvalRow back = qb::EvalRow::fromJson(j);
        QCOMPARE(back.label, r.label);
        QCOMPARE(back.n, r.n);
        QCOMPARE(*back.stepAccuracy, 0.95);
        QVERIFY(!qb::EvalRow::fromJson(json{{"task", "gpqa"}, {"accuracy", 0.5}}).stepAccuracy);
        QVERIFY(!back.decoding && !j.contains("prompt_style")); // an evaluate row has none
        // A decoding sweep row keeps its setting; the drop from greedy is greedy - accuracy.
        qb::DecodingSetting d;
        d.temperature = 0.7;
        d.topP = 0.9;
        d.topK = 40;
        d.promptStyle = "direct";
        d.greedyAccuracy = 0.95;
        r.decoding = d;
        r.selfConsistency = 5;
        const json sj = r.toJson();
        QVERIFY(std::abs(sj["drop_from_greedy"].get<double>() - 0.05) < 1e-12);
        const qb::EvalRow sb = qb::EvalRow::fromJson(sj);
        QVERIFY(sb.decoding);
        QCOMPARE(sb.decoding->temperature, 0.7);
        QCOMPARE(sb.decoding->topP, 0.9);
        QCOMPARE(sb.decoding->topK, int64_t(40));
        QCOMPARE(sb.decoding->promptStyle, std::string("direct"));
        QCOMPARE(*sb.decoding->greedyAccuracy, 0.95);
        QCOMPARE(sb.selfConsistency, int64_t(5));
        // A quantize row is not an evaluation row.
        const json quant = qb::QuantRow{"nf4", "nf4-b64", 10, 4.5}.toJson();
        QVERIFY(!qb::EvalRow::matches(quant));
        QVERIFY(qbtest::errorOf([&] { qb::EvalRow::fromJson(quant); })
                    .contains("not an evaluation row"));
        QCOMPARE(qb::QuantRow::fromJson(quant).bitsPerParam, 4.5);
    }

    void connectionRulesNameTheProblem()
    {
        const qb::Experiment e = qb::parseExperiment(R"(schema_version: 1
nodes:
  - {id: m, type: model.random}
  - {id: m2, type: model.random}
  - {id: g, type: dataset.gsm8k}
  - {id: q, type: quantize, inputs: {model: m}}
  - {id: ev, type: evaluate, inputs: {models: [q], datasets: [g]}}
)", "t.yaml", qb::builtinRegistry());
        const auto &reg = qb::builtinRegistry();
        auto why = [&](const char *from, const char *to, const char *port) {
            return qb::connectionError(e, reg, from, to, port);
        };
        QCOMPARE(why("m", "ev", "models"), std::string());
        QVERIFY(why("g", "ev", "models").find("port type mismatch: 'g' gives a dataset") == 0);
        QVERIFY(why("q", "ev", "models").find("already connected") != std::string::npos);
        QVERIFY(why("m2", "q", "model").find("takes a single connection") != std::string::npos);
        QVERIFY(why("q", "q", "model").find("its own output") != std::string::npos);
        QVERIFY(why("m", "q", "nope").find("has no input 'nope'") != std::string::npos);
        QVERIFY(why("x", "q", "model") == "no such node");
        QVERIFY(qb::portAccepts("model", "model"));
        QVERIFY(!qb::portAccepts("model", "dataset"));
    }

    void cycleIsRefused()
    {
        // analyze.sensitivity takes a model; a quantize fed by its own downstream would cycle.
        const qb::Experiment e = qb::parseExperiment(R"(schema_version: 1
nodes:
  - {id: m, type: model.random}
  - {id: q1, type: quantize, inputs: {model: m}}
  - {id: q2, type: quantize, inputs: {model: q1}}
  - {id: ev, type: evaluate, inputs: {models: [q2], datasets: [d]}}
  - {id: d, type: dataset.gsm8k}
)", "t.yaml", qb::builtinRegistry());
        qb::Experiment cut = e;
        cut.find("q1")->inputs.clear(); // q1 free: q2 -> q1 would close q1 -> q2 -> q1
        const std::string why = qb::connectionError(cut, qb::builtinRegistry(), "q2", "q1", "model");
        QVERIFY2(why.find("cycle ('q2' already depends on 'q1')") != std::string::npos, why.c_str());
    }
};

QTEST_APPLESS_MAIN(TestSeams)
#include "tst_seams.moc"
