// The executor: dependency order, caching by content hash (a re-run recomputes nothing; a changed
// parameter recomputes that node and what follows it), replay of a cached node's metric and log
// events, cooperative cancellation within one step with resume from cache, failures that name the
// node, and the atomic run folder.
#include "api/executor.h"
#include "api/node_context.h"
#include "quant/kernel_settings.h"
#include "support/test_support.h"
#include "util/error.h"
#include "util/files.h"

#include <QtTest>

#include <cmath>
#include <fstream>
#include <limits>

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::map<std::string, int> g_runs; // node id -> times its body ran
std::map<std::string, bool> g_sawInt8; // num node id -> int8 activations on while it ran
std::vector<std::string> g_order;

qb::NodeRegistry testRegistry()
{
    qb::NodeRegistry r;
    qb::NodeSpec num;
    num.type = "num";
    num.outputType = "num";
    num.params = {{"value", qb::ParamKind::Int, 1, ""}};
    num.run = [](qb::NodeContext &ctx) {
        ++g_runs[ctx.nodeId()];
        g_sawInt8[ctx.nodeId()] = qb::int8ActivationKernelsEnabled();
        g_order.push_back(ctx.nodeId());
        qb::writeFileAtomic(ctx.outDir() / "value.txt", ctx.params()["value"].dump());
        qb::Artifact a;
        a.meta["value"] = ctx.params()["value"];
        return a;
    };
    r.add(num);
    qb::NodeSpec sum;
    sum.type = "sum";
    sum.outputType = "num";
    sum.inputs = {{"terms", "num", true, false, ""}};
    sum.params = {{"steps", qb::ParamKind::Int, 1, ""}, {"fail", qb::ParamKind::Bool, false, ""}};
    sum.run = [](qb::NodeContext &ctx) {
        ++g_runs[ctx.nodeId()];
        g_order.push_back(ctx.nodeId());
        if (ctx.params()["fail"].get<bool>())
            throw qb::Error("bad input row 3");
        const int steps = ctx.params()["steps"];
        // Checkpointing as a long node would: resume from the last finished step.
        fs::create_directories(ctx.resumeDir());
        const fs::path mark = ctx.resumeDir() / "next_step";
        const int first = fs::exists(mark) ? std::stoi(qbtest::readFile(mark)) : 0;
        for (int s = first; s < steps; ++s) {
            ctx.checkCancelled();
            ctx.progress(s + 1, steps, "adding");
            ctx.metric("partial", s, s * 0.5, {{"step_of", steps}, {"terms", {"x", 1.5}}});
            qb::writeFileAtomic(mark, std::to_string(s + 1));
        }
        ctx.log("summed " + std::to_string(ctx.inputs("terms").size()) + " terms");
        int total = 0;
        for (const auto &t : ctx.inputs("terms"))
            total += std::stoi(qbtest::readFile(t.dir / "value.txt"));
        qb::writeFileAtomic(ctx.outDir() / "value.txt", std::to_string(total));
        ctx.addResult({{"task", "sum"}, {"total", total}});
        qb::Artifact a;
        a.meta["value"] = total;
        return a;
    };
    r.add(sum);
    return r;
}

std::string project(int a, int b, int steps = 1, bool fail = false)
{
    return "schema_version: 1\nname: ex\nseed: 3\nnodes:\n"
           "  - {id: s, type: sum, inputs: {terms: [a, b]}, params: {steps: "
        + std::to_string(steps) + ", fail: " + (fail ? "true" : "false") + "}}\n"
           "  - {id: a, type: num, params: {value: " + std::to_string(a) + "}}\n"
           "  - {id: b, type: num, params: {value: " + std::to_string(b) + "}}\n";
}

struct Fixture
{
    fs::path root = qbtest::makeTempDir("exec");
    qb::NodeRegistry registry = testRegistry();
    std::vector<qb::Event> events;

    qb::RunSummary run(const std::string &yaml, const std::string &out,
                       std::function<void(const qb::Event &, qb::CancelToken &)> hook = {})
    {
        const auto exp = qb::parseExperiment(yaml, "ex.yaml", registry);
        qb::RunOptions opt;
        opt.outDir = root / out;
        opt.cacheDir = root / "cache";
        qb::CancelToken cancel;
        events.clear();
        return qb::runExperiment(exp, registry, opt, [&](const qb::Event &e) {
            events.push_back(e);
            if (hook)
                hook(e, cancel);
        }, cancel);
    }
};

// The Metric and Log events of one node, as JSON without time and the cached flag.
std::vector<json> nodeOutput(const std::vector<qb::Event> &events, const std::string &node)
{
    std::vector<json> out;
    for (const auto &e : events)
        if (e.node == node
            && (e.kind == qb::Event::Kind::Metric || e.kind == qb::Event::Kind::Log)) {
            json j = qb::toJson(e);
            j.erase("time");
            j.erase("cached");
            out.push_back(j);
        }
    return out;
}

std::vector<json> eventLines(const fs::path &file)
{
    std::ifstream in(file);
    std::vector<json> out;
    std::string line;
    while (std::getline(in, line))
        out.push_back(json::parse(line));
    return out;
}

} // namespace

class TestExecutor : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init()
    {
        g_runs.clear();
        g_order.clear();
    }

    void runsInDependencyOrderAndWritesRunFolder()
    {
        Fixture f;
        const auto s = f.run(project(2, 5), "r1");
        QCOMPARE(s.status, std::string("ok"));
        QCOMPARE(g_order, (std::vector<std::string>{"a", "b", "s"}));
        QCOMPARE(s.results["results"][0]["total"].get<int>(), 7);
        QCOMPARE(s.results["results"][0]["node"].get<std::string>(), std::string("s"));
        QVERIFY(fs::exists(f.root / "r1" / "results.json"));
        QVERIFY(fs::exists(f.root / "r1" / "experiment.yaml"));
        QVERIFY(!fs::exists(f.root / "r1.partial"));
        QCOMPARE(qbtest::readFile(f.root / "r1" / "nodes" / "s" / "value.txt"), std::string("7"));
        // events.jsonl holds one parseable event per line, in order, ending with run_finished.
        std::ifstream in(f.root / "r1" / "events.jsonl");
        std::string line, last;
        int n = 0;
        while (std::getline(in, line)) {
            const auto e = qb::eventFromJson(json::parse(line));
            last = qb::toString(e.kind);
            ++n;
        }
        QCOMPARE(n, int(f.events.size()));
        QCOMPARE(last, std::string("run_finished"));
        // The resolved experiment lists defaults the file left out.
        QVERIFY(qbtest::readFile(f.root / "r1" / "experiment.yaml").find("fail: false")
                != std::string::npos);
    }

    void rerunComesFromCacheAndChangesRecomputeDownstream()
    {
        Fixture f;
        f.run(project(2, 5), "r1");
        QCOMPARE(g_runs, (std::map<std::string, int>{{"a", 1}, {"b", 1}, {"s", 1}}));
        const auto again = f.run(project(2, 5), "r2");
        QCOMPARE(g_runs, (std::map<std::string, int>{{"a", 1}, {"b", 1}, {"s", 1}}));
        QCOMPARE(again.results["results"][0]["total"].get<int>(), 7);
        QVERIFY(again.results["nodes"]["s"]["cached"].get<bool>());
        const auto changed = f.run(project(2, 6), "r3");
        QCOMPARE(g_runs, (std::map<std::string, int>{{"a", 1}, {"b", 2}, {"s", 2}}));
        QCOMPARE(changed.results["results"][0]["total"].get<int>(), 8);
    }

    void plannedKeysAreTheKeysARunUses()
    {
        Fixture f;
        const auto summary = f.run(project(2, 5), "r1");
        const auto planned = qb::plannedCacheKeys(
            qb::parseExperiment(project(2, 5), "ex.yaml", f.registry), f.registry);
        QCOMPARE(planned.size(), size_t(3));
        for (const auto &[id, key] : planned)
            QCOMPARE(summary.results["nodes"][id]["key"].get<std::string>(), key);
        // Changing b changes b and its downstream s, not a.
        const auto changed = qb::plannedCacheKeys(
            qb::parseExperiment(project(2, 6), "ex.yaml", f.registry), f.registry);
        QCOMPARE(changed.at("a"), planned.at("a"));
        QVERIFY(changed.at("b") != planned.at("b"));
        QVERIFY(changed.at("s") != planned.at("s"));
        // A node with a problem (t lacks its required input; u reads t) gets no key, the others
        // keep theirs: adding an unconnected node does not make the rest look edited.
        qb::Experiment partial = qb::parseExperiment(project(2, 5), "ex.yaml", f.registry);
        qb::NodeDecl t;
        t.id = "t";
        t.type = "sum";
        partial.nodes.push_back(t);
        qb::NodeDecl u = t;
        u.id = "u";
        u.inputs = {{"terms", {"t", "a"}}};
        partial.nodes.push_back(u);
        QVERIFY(!qb::validateExperiment(partial, f.registry).empty());
        const auto some = qb::plannedCacheKeys(partial, f.registry);
        QCOMPARE(some.size(), size_t(3));
        QCOMPARE(some, planned);
        // Int8 activations (QB_ACT_Q8) compute other numbers: every key changes, and back.
        const auto exp = qb::parseExperiment(project(2, 5), "ex.yaml", f.registry);
        qb::setInt8ActivationKernels(true);
        const auto q8 = qb::plannedCacheKeys(exp, f.registry);
        qb::setInt8ActivationKernels(false);
        for (const auto &[id, key] : planned)
            QVERIFY(q8.at(id) != key);
        QCOMPARE(qb::plannedCacheKeys(exp, f.registry), planned);
        // So does bf16 compute where it runs (elsewhere nothing changes, and neither do keys),
        // and both together differ from each alone.
        qb::setBf16Compute(true);
        const bool bf16 = qb::bf16ComputeActive();
        const auto b = qb::plannedCacheKeys(exp, f.registry);
        qb::setInt8ActivationKernels(true);
        const auto both = qb::plannedCacheKeys(exp, f.registry);
        qb::setInt8ActivationKernels(false);
        qb::setBf16Compute(false);
        QCOMPARE(qb::resultArithmeticTag(), std::string());
        for (const auto &[id, key] : planned) {
            QCOMPARE(b.at(id) != key, bf16);
            QCOMPARE(both.at(id) != q8.at(id), bf16);
        }
        // An experiment's own `arithmetic:` gives the keys the switches would, and planning
        // leaves the switches as they were; `activations: float` wins over a switch that is on.
        const std::string text = project(2, 5);
        const std::string withQ8 = "arithmetic: {activations: int8}\n" + text;
        const auto q8File = qb::parseExperiment(withQ8, "ex.yaml", f.registry);
        QCOMPARE(qb::plannedCacheKeys(q8File, f.registry), q8);
        QVERIFY(!qb::int8ActivationKernelsEnabled());
        const auto floatFile = qb::parseExperiment("arithmetic: {activations: float}\n" + text,
                                                   "ex.yaml", f.registry);
        qb::setInt8ActivationKernels(true);
        QCOMPARE(qb::plannedCacheKeys(floatFile, f.registry), planned);
        qb::setInt8ActivationKernels(false);
        const auto bothFile = qb::parseExperiment(
            "arithmetic: {activations: int8, dense: bf16}\n" + text, "ex.yaml", f.registry);
        QCOMPARE(qb::plannedCacheKeys(bothFile, f.registry), both);
        QVERIFY(!qb::bf16ComputeEnabled());
    }

    // A run computes with its experiment's arithmetic (the nodes see the switch on, the keys say
    // so) and leaves the switches as they were.
    void runAppliesTheExperimentsArithmetic()
    {
        Fixture f;
        g_sawInt8.clear();
        const std::string withQ8 = "arithmetic: {activations: int8}\n" + project(2, 5);
        const auto planned = qb::plannedCacheKeys(
            qb::parseExperiment(withQ8, "ex.yaml", f.registry), f.registry);
        const auto summary = f.run(withQ8, "r1");
        QCOMPARE(summary.status, std::string("ok"));
        QVERIFY(!qb::int8ActivationKernelsEnabled());
        QCOMPARE(g_sawInt8, (std::map<std::string, bool>{{"a", true}, {"b", true}}));
        const json results = json::parse(qbtest::readFile(f.root / "r1" / "results.json"));
        for (const auto &[id, key] : planned)
            QCOMPARE(results["nodes"][id]["key"].get<std::string>(), key);
        // The same file without it runs the process's arithmetic: other keys, nothing reused.
        g_runs.clear();
        f.run(project(2, 5), "r2");
        QCOMPARE(g_runs["s"], 1);
        QCOMPARE(g_sawInt8["a"], false);
    }

    void nanMetricReadsBackAsNan()
    {
        // JSON has no NaN: toJson writes null, and a run folder holding one must still read.
        qb::Event e;
        e.kind = qb::Event::Kind::Metric;
        e.node = "err";
        e.name = "sqnr_db";
        e.step = 3;
        e.value = std::numeric_limits<double>::quiet_NaN();
        const json j = json::parse(qb::toJson(e).dump());
        QVERIFY(j["value"].is_null());
        const qb::Event back = qb::eventFromJson(j);
        QVERIFY(std::isnan(back.value));
        QCOMPARE(back.step, 3.0);
        QCOMPARE(back.name, std::string("sqnr_db"));
        // A wrong type is still an error, not a silent zero.
        QVERIFY_THROWS_EXCEPTION(qb::Error, qb::eventFromJson(json{{"kind", "metric"}, {"value", "x"}}));
    }


    void metricXAndUnitRoundTripAndOldLinesInferThem()
    {
        qb::Event e;
        e.kind = qb::Event::Kind::Metric;
        e.name = "custom";
        e.step = 2;
        e.value = 0.5;
        e.x = qb::MetricX::Layer;
        e.unit = "dB";
        const json j = json::parse(qb::toJson(e).dump());
        QCOMPARE(j["x"].get<std::string>(), std::string("layer"));
        QCOMPARE(j["unit"].get<std::string>(), std::string("dB"));
        const qb::Event back = qb::eventFromJson(j);
        QVERIFY(back.x == qb::MetricX::Layer);
        QCOMPARE(back.unit, std::string("dB"));
        // Lines written before metrics carried x and unit (events.jsonl of older runs).
        auto old = [](const char *name) {
            return qb::eventFromJson(json{{"kind", "metric"}, {"name", name}, {"step", 1},
                                          {"value", 0.1}});
        };
        QVERIFY(old("layer_error").x == qb::MetricX::Layer);
        QCOMPARE(old("layer_error").unit, std::string("relative MSE"));
        QVERIFY(old("accuracy/gsm8k").x == qb::MetricX::None);
        QVERIFY(old("loss").x == qb::MetricX::Step);
        QCOMPARE(old("loss").unit, std::string("nats"));
        QVERIFY(old("sensitivity.curve").x == qb::MetricX::Bits);
        QVERIFY(old("my_series").x == qb::MetricX::Step);
        QVERIFY(old("my_series").unit.empty());
        QVERIFY_THROWS_EXCEPTION(qb::Error, qb::eventFromJson(json{{"kind", "metric"},
                                                                   {"x", "time"}}));
    }
    void cachedNodeReplaysItsEvents()
    {
        Fixture f;
        const auto first = f.run(project(2, 5, 2), "r1");
        QCOMPARE(first.status, std::string("ok"));
        // Two metric points then the log line, exactly as the node body emits them (x: the
        // default, a step; no unit given).
        const std::vector<json> expected = {
            {{"kind", "metric"}, {"node", "s"}, {"name", "partial"}, {"step", 0.0}, {"value", 0.0},
             {"x", "step"}, {"data", {{"step_of", 2}, {"terms", {"x", 1.5}}}}},
            {{"kind", "metric"}, {"node", "s"}, {"name", "partial"}, {"step", 1.0}, {"value", 0.5},
             {"x", "step"}, {"data", {{"step_of", 2}, {"terms", {"x", 1.5}}}}},
            {{"kind", "log"}, {"node", "s"}, {"message", "summed 2 terms"}}};
        QCOMPARE(nodeOutput(f.events, "s"), expected);
        for (const auto &e : f.events)
            QVERIFY(!e.cached);

        const auto second = f.run(project(2, 5, 2), "r2");
        QCOMPARE(second.status, std::string("ok"));
        QCOMPARE(g_runs["s"], 1);
        QVERIFY(second.results["nodes"]["s"]["cached"].get<bool>());
        QCOMPARE(nodeOutput(f.events, "s"), expected);
        // node_cached first, then the replay; no progress or node_started for the cached node.
        std::vector<std::string> kinds;
        for (const auto &e : f.events)
            if (e.node == "s") {
                kinds.push_back(qb::toString(e.kind));
                QCOMPARE(e.cached, e.kind == qb::Event::Kind::Metric
                                       || e.kind == qb::Event::Kind::Log);
            }
        QCOMPARE(kinds, (std::vector<std::string>{"node_cached", "metric", "metric", "log"}));
        // The run's events.jsonl holds the same lines, marked "cached": true, and reads back.
        std::vector<qb::Event> fromFile;
        for (const auto &j : eventLines(f.root / "r2" / "events.jsonl")) {
            if (j.value("node", "") == "s" && j["kind"] != "node_cached")
                QCOMPARE(j.value("cached", false), true);
            fromFile.push_back(qb::eventFromJson(j));
        }
        QCOMPARE(nodeOutput(fromFile, "s"), expected);
        // Nodes that emitted nothing replay nothing and warn about nothing.
        QVERIFY(nodeOutput(f.events, "a").empty());
    }

    void damagedOrMissingEventRecordKeepsTheEntry()
    {
        Fixture f;
        const auto first = f.run(project(2, 5, 2), "r1");
        const fs::path entry = first.results["nodes"]["s"]["cache_dir"].get<std::string>();
        QVERIFY(fs::exists(entry / "events.jsonl"));
        auto warnings = [&f] {
            std::vector<std::string> out;
            for (const auto &e : f.events)
                if (e.node == "s" && e.kind == qb::Event::Kind::Log && !e.cached)
                    out.push_back(e.message);
            return out;
        };
        auto replayed = [&f] {
            int n = 0;
            for (const auto &e : f.events)
                n += e.cached;
            return n;
        };

        // A damaged record (here its second line) replays nothing; the artifact is still used.
        const std::string text = qbtest::readFile(entry / "events.jsonl");
        qbtest::writeFile(entry / "events.jsonl",
                          text.substr(0, text.find('\n') + 1) + "{\"kind\": \"metr\n");
        auto s = f.run(project(2, 5, 2), "r2");
        QCOMPARE(s.status, std::string("ok"));
        QCOMPARE(s.results["results"][0]["total"].get<int>(), 7);
        QCOMPARE(g_runs["s"], 1);
        QCOMPARE(replayed(), 0);
        auto w = warnings();
        QCOMPARE(int(w.size()), 1);
        QVERIFY2(w[0].find("not replayed") != std::string::npos
                     && w[0].find("events.jsonl:2") != std::string::npos,
                 w[0].c_str());

        // A recorded line of a kind the executor never records is damage too.
        qbtest::writeFile(entry / "events.jsonl", "{\"kind\": \"node_finished\"}\n");
        s = f.run(project(2, 5, 2), "r3");
        QCOMPARE(s.status, std::string("ok"));
        QCOMPARE(replayed(), 0);
        QCOMPARE(int(warnings().size()), 1);

        // A missing record: the same.
        fs::remove(entry / "events.jsonl");
        s = f.run(project(2, 5, 2), "r4");
        QCOMPARE(s.status, std::string("ok"));
        QCOMPARE(g_runs["s"], 1);
        QCOMPARE(replayed(), 0);
        w = warnings();
        QCOMPARE(int(w.size()), 1);
        QVERIFY2(w[0].find("no events.jsonl") != std::string::npos, w[0].c_str());

        // Recomputing without the cache writes the record again, and it replays.
        qb::RunOptions opt;
        opt.outDir = f.root / "r5";
        opt.cacheDir = f.root / "cache";
        opt.useCache = false;
        qb::CancelToken cancel;
        qb::runExperiment(qb::parseExperiment(project(2, 5, 2), "ex.yaml", f.registry), f.registry,
                          opt, [](const qb::Event &) {}, cancel);
        QCOMPARE(g_runs["s"], 2);
        s = f.run(project(2, 5, 2), "r6");
        QCOMPARE(replayed(), 3);
        QVERIFY(warnings().empty());
    }

    void cancelStopsWithinAStepAndResumes()
    {
        Fixture f;
        const auto s = f.run(project(1, 2, 50), "r1", [](const qb::Event &e, qb::CancelToken &c) {
            if (e.kind == qb::Event::Kind::Progress && e.step >= 3)
                c.cancel();
        });
        QCOMPARE(s.status, std::string("cancelled"));
        int progress = 0;
        for (const auto &e : f.events)
            progress += e.kind == qb::Event::Kind::Progress;
        QCOMPARE(progress, 3); // the step after the request never ran
        const json saved = json::parse(qbtest::readFile(f.root / "r1" / "results.json"));
        QCOMPARE(saved["status"].get<std::string>(), std::string("cancelled"));
        // Nothing half-written is left in the cache: only the finished inputs.
        int entries = 0;
        for (const auto &e : fs::directory_iterator(f.root / "cache")) {
            if (e.path().filename().string().front() == '.')
                continue; // .resume: checkpoints of unfinished nodes
            QVERIFY2(fs::exists(e.path() / "artifact.json"), e.path().c_str());
            ++entries;
        }
        QCOMPARE(entries, 2); // a and b; the cancelled s left nothing
        QVERIFY(fs::exists(f.root / "cache" / ".resume")); // the checkpoint survived the cancel
        const auto resumed = f.run(project(1, 2, 50), "r2");
        QCOMPARE(resumed.status, std::string("ok"));
        progress = 0;
        for (const auto &e : f.events)
            progress += e.kind == qb::Event::Kind::Progress;
        QCOMPARE(progress, 47); // steps 4..50: resumed from the checkpoint, not from zero
        QVERIFY(fs::is_empty(f.root / "cache" / ".resume")); // removed once the node succeeded
        QCOMPARE(g_runs, (std::map<std::string, int>{{"a", 1}, {"b", 1}, {"s", 2}}));
    }

    void failureNamesTheNode()
    {
        Fixture f;
        const auto s = f.run(project(1, 2, 1, true), "r1");
        QCOMPARE(s.status, std::string("failed"));
        QCOMPARE(s.failedNode, std::string("s"));
        QVERIFY2(s.error.find("node 's' (sum): bad input row 3") != std::string::npos, s.error.c_str());
        QVERIFY(fs::exists(f.root / "r1" / "results.json"));
    }

    void refusesToOverwriteARunFolder()
    {
        Fixture f;
        f.run(project(1, 2), "r1");
        QVERIFY_THROWS_EXCEPTION(qb::Error, f.run(project(1, 2), "r1"));
    }

    void damagedCacheEntryIsRecomputed()
    {
        Fixture f;
        f.run(project(4, 4), "r1");
        for (const auto &e : fs::directory_iterator(f.root / "cache"))
            if (e.path().filename().string().front() != '.')
                qbtest::writeFile(e.path() / "artifact.json", "{ truncated");
        const auto s = f.run(project(4, 4), "r2");
        QCOMPARE(s.status, std::string("ok"));
        QCOMPARE(s.results["results"][0]["total"].get<int>(), 8);
        QCOMPARE(g_runs["s"], 2);
    }

    void identicalNodesShareOneCacheEntry()
    {
        Fixture f;
        f.run(project(3, 3), "r1"); // a and b have the same type and parameters
        QCOMPARE(g_runs["a"] + g_runs["b"], 1);
        int entries = 0;
        for (const auto &e : fs::directory_iterator(f.root / "cache"))
            entries += e.path().filename().string().front() != '.';
        QCOMPARE(entries, 2);
    }

    void cacheKeyDependsOnParamsSeedAndInputs()
    {
        const auto reg = testRegistry();
        const auto &spec = *reg.find("num");
        const auto k1 = qb::nodeCacheKey(spec, {{"value", 1}}, 3, {}, "");
        QCOMPARE(k1.size(), size_t(32));
        QCOMPARE(qb::nodeCacheKey(spec, {{"value", 1}}, 3, {}, ""), k1);
        QVERIFY(qb::nodeCacheKey(spec, {{"value", 2}}, 3, {}, "") != k1);
        QVERIFY(qb::nodeCacheKey(spec, {{"value", 1}}, 4, {}, "") != k1);
        QVERIFY(qb::nodeCacheKey(spec, {{"value", 1}}, 3, {{"x", {"abc"}}}, "") != k1);
        QVERIFY(qb::nodeCacheKey(spec, {{"value", 1}}, 3, {}, "act-q8") != k1);
    }
};

QTEST_GUILESS_MAIN(TestExecutor)
#include "tst_executor.moc"
