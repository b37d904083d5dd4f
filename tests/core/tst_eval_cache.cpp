// The evaluate node's per-(model, dataset, settings) cache: adding a model to an evaluate node
// evaluates that model only, the rows and records equal those of a run without any cache, any
// setting change evaluates everything again, and the units a cancelled run finished are kept.
// Runs the real nodes (a small random model, int8/nf4 quantize, synthetic GSM-style questions).
#include "api/executor.h"
#include "api/registry.h"
#include "support/test_support.h"
#include "util/files.h"

#include <QtTest>

#include <fstream>

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// models: the evaluate node's model list; maxNew: its decoding length.
std::string project(const std::string &models, int maxNew = 6)
{
    return R"(schema_version: 1
name: eval-cache
seed: 11
nodes:
  - {id: base, type: model.random, params: {vocab_size: 256, hidden_size: 32,
     intermediate_size: 64, layers: 2, heads: 4, kv_heads: 2, max_positions: 256}}
  - {id: q8, type: quantize, inputs: {model: base}, params: {method: int8}}
  - {id: nf4, type: quantize, inputs: {model: base}, params: {method: nf4, block_size: 64}}
  - {id: gsm, type: dataset.gsm8k, params: {limit: 3}}
  - {id: ev, type: evaluate, inputs: {models: )"
        + models + R"(, datasets: [gsm]},
     params: {batch_size: 3, decoding: {max_new_tokens: )"
        + std::to_string(maxNew) + "}}}\n";
}

struct Run
{
    qb::RunSummary summary;
    int evaluated() const { return meta().value("evaluated", -1); }
    int reused() const { return meta().value("reused", -1); }
    json meta() const { return summary.results["nodes"]["ev"]["meta"]; }
    // The evaluation rows without the measured speed and memory (measurements, not results).
    std::vector<json> rows() const
    {
        std::vector<json> out;
        for (json r : summary.results["results"])
            if (r.value("node", "") == "ev") {
                r.erase("tokens_per_second");
                r.erase("prefill_tokens_per_second");
                r.erase("working_memory_bytes");
                out.push_back(r);
            }
        return out;
    }
};

Run run(const std::string &yaml, const fs::path &out, const fs::path &cache, bool useCache = true,
        std::function<void(const qb::Event &, qb::CancelToken &)> hook = {})
{
    const auto &registry = qb::builtinRegistry();
    qb::RunOptions opt;
    opt.outDir = out;
    opt.cacheDir = cache;
    opt.useCache = useCache;
    qb::CancelToken cancel;
    Run r;
    r.summary = qb::runExperiment(qb::parseExperiment(yaml, "eval-cache.yaml", registry), registry,
                                  opt, [&](const qb::Event &e) {
                                      if (hook)
                                          hook(e, cancel);
                                  }, cancel);
    return r;
}

} // namespace

class TestEvalCache : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void addingAModelEvaluatesOnlyThatModel()
    {
        const fs::path root = qbtest::makeTempDir("eval_cache");
        const Run first = run(project("[base, q8]"), root / "r1", root / "cache");
        QVERIFY2(first.summary.status == "ok", first.summary.error.c_str());
        QCOMPARE(first.evaluated(), 2);
        QCOMPARE(first.reused(), 0);
        // Working memory (activations, KV cache) is measured wherever the process may reset its
        // high-water mark (/proc/self/clear_refs): positive, and for this tiny model far below
        // the process's own baseline of ~150 MiB (a reading of the whole RSS would exceed it).
        int peaks = 0;
        for (const json &r : first.summary.results["results"])
            if (r.value("node", "") == "ev" && r.contains("working_memory_bytes")) {
                const int64_t w = r["working_memory_bytes"].get<int64_t>();
                QVERIFY2(w > 0 && w < (int64_t(100) << 20), std::to_string(w).c_str());
                ++peaks;
            }
        if (std::ofstream("/proc/self/clear_refs"))
            QCOMPARE(peaks, 2);

        const Run added = run(project("[base, q8, nf4]"), root / "r2", root / "cache");
        QVERIFY2(added.summary.status == "ok", added.summary.error.c_str());
        QCOMPARE(added.evaluated(), 1); // nf4 only
        QCOMPARE(added.reused(), 2);
        QCOMPARE(added.rows().size(), size_t(3));
        QCOMPARE(added.rows()[0]["model"].get<std::string>(), std::string("base"));
        QCOMPARE(added.rows()[2]["model"].get<std::string>(), std::string("nf4"));

        // The same project without any cache: the same rows and per-question records.
        const Run fresh = run(project("[base, q8, nf4]"), root / "r3", root / "cache-none", false);
        QVERIFY2(fresh.summary.status == "ok", fresh.summary.error.c_str());
        QCOMPARE(fresh.evaluated(), 3);
        QCOMPARE(fresh.rows().size(), added.rows().size());
        for (size_t i = 0; i < fresh.rows().size(); ++i)
            QCOMPARE(fresh.rows()[i].dump(), added.rows()[i].dump());
        for (const char *f : {"base__gsm.jsonl", "q8__gsm.jsonl", "nf4__gsm.jsonl"}) {
            const std::string a = qbtest::readFile(root / "r2" / "nodes" / "ev" / "records" / f);
            QVERIFY2(!a.empty(), f);
            QCOMPARE(a, qbtest::readFile(root / "r3" / "nodes" / "ev" / "records" / f));
        }

        // Any setting change evaluates every model again.
        const Run longer = run(project("[base, q8, nf4]", 7), root / "r4", root / "cache");
        QVERIFY2(longer.summary.status == "ok", longer.summary.error.c_str());
        QCOMPARE(longer.evaluated(), 3);
        // Removing a model needs no evaluation at all.
        const Run fewer = run(project("[nf4, base]"), root / "r5", root / "cache");
        QCOMPARE(fewer.evaluated(), 0);
        QCOMPARE(fewer.reused(), 2);
        QCOMPARE(fewer.rows()[0]["model"].get<std::string>(), std::string("nf4"));
        QCOMPARE(fewer.rows()[0]["accuracy"].get<double>(), added.rows()[2]["accuracy"].get<double>());
    }

    void unitsOfACancelledRunAreKept()
    {
        const fs::path root = qbtest::makeTempDir("eval_cache_cancel");
        // Cancel as soon as the first model's row is out: its unit is already stored.
        const Run cut = run(project("[base, q8, nf4]"), root / "r1", root / "cache", true,
                            [](const qb::Event &e, qb::CancelToken &cancel) {
                                if (e.kind == qb::Event::Kind::Metric && e.node == "ev")
                                    cancel.cancel();
                            });
        QCOMPARE(cut.summary.status, std::string("cancelled"));
        const Run resumed = run(project("[base, q8, nf4]"), root / "r2", root / "cache");
        QVERIFY2(resumed.summary.status == "ok", resumed.summary.error.c_str());
        QCOMPARE(resumed.reused(), 1);
        QCOMPARE(resumed.evaluated(), 2);
        // A damaged unit entry is evaluated again, not trusted.
        for (const auto &e : fs::directory_iterator(root / "cache" / "units"))
            qb::writeFileAtomic(e.path(), "{not json\n");
        const Run damaged = run(project("[base, q8]"), root / "r3", root / "cache");
        QVERIFY2(damaged.summary.status == "ok", damaged.summary.error.c_str());
        QCOMPARE(damaged.evaluated(), 2);
    }
};

QTEST_APPLESS_MAIN(TestEvalCache)
#include "tst_eval_cache.moc"
