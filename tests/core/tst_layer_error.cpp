// Error analysis (core/analysis): per-layer output error, block error, KL and perplexity, outlier
// statistics, kurtosis, weight histogram levels, sensitivity and the greedy bit allocation, and the
// two analysis nodes run through the executor. Expectations are computed here independently
// (hand-derived values, plain float64 loops over the probe's raw logits and embeddings, the
// published NF4 table); torch work happens in layer_error_probe.cpp.
#include "analysis/bit_allocation.h"
#include "api/executor.h"
#include "api/experiment.h"
#include "api/registry.h"
#include "layer_error_probe.h"
#include "support/test_support.h"

#include <QtTest>

#include <cmath>
#include <limits>
#include <random>

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// NF4 code values as published with QLoRA (Dettmers et al. 2023, appendix E / bitsandbytes).
const double kNf4[16] = {-1.0,
                         -0.6961928009986877,
                         -0.5250730514526367,
                         -0.39491748809814453,
                         -0.28444138169288635,
                         -0.18477343022823334,
                         -0.09105003625154495,
                         0.0,
                         0.07958029955625534,
                         0.16093020141124725,
                         0.24611230194568634,
                         0.33791524171829224,
                         0.44070982933044434,
                         0.5626170039176941,
                         0.7229568362236023,
                         1.0};

bool near(double a, double b, double rel, double abs = 0)
{
    return std::fabs(a - b) <= std::max(abs, rel * std::max(std::fabs(a), std::fabs(b)));
}

// log softmax of one row in float64.
std::vector<double> logSoftmax(const float *row, int64_t n)
{
    double mx = -kInf;
    for (int64_t i = 0; i < n; ++i)
        mx = std::max(mx, double(row[i]));
    double s = 0;
    for (int64_t i = 0; i < n; ++i)
        s += std::exp(row[i] - mx);
    std::vector<double> out(n);
    for (int64_t i = 0; i < n; ++i)
        out[i] = row[i] - mx - std::log(s);
    return out;
}

double handKlMean(const qbprobe::ErrorRun &r)
{
    const int64_t positions = r.sequences * r.seq;
    double sum = 0;
    for (int64_t p = 0; p < positions; ++p) {
        const auto lp = logSoftmax(&r.refLogits[p * r.vocab], r.vocab);
        const auto lq = logSoftmax(&r.quantLogits[p * r.vocab], r.vocab);
        for (int64_t v = 0; v < r.vocab; ++v)
            sum += std::exp(lp[v]) * (lp[v] - lq[v]);
    }
    return sum / positions;
}

double handPerplexity(const qbprobe::ErrorRun &r, const std::vector<float> &logits)
{
    double nll = 0;
    int64_t n = 0;
    for (int64_t s = 0; s < r.sequences; ++s)
        for (int64_t t = 0; t + 1 < r.seq; ++t) {
            const int64_t p = s * r.seq + t;
            nll -= logSoftmax(&logits[p * r.vocab], r.vocab)[r.ids[p + 1]];
            ++n;
        }
    return std::exp(nll / n);
}

double handKurtosis(const std::vector<float> &w)
{
    double mean = 0;
    for (float v : w)
        mean += v;
    mean /= w.size();
    double m2 = 0, m4 = 0;
    for (float v : w) {
        const double c = v - mean;
        m2 += c * c;
        m4 += c * c * c * c;
    }
    m2 /= w.size();
    m4 /= w.size();
    return m4 / (m2 * m2);
}

const qbprobe::LinearRow &row(const qbprobe::ErrorRun &r, const std::string &name)
{
    for (const auto &l : r.linears)
        if (l.name == name)
            return l;
    qFatal("no row %s", name.c_str());
}

} // namespace

class TestLayerError : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void identicalModelsGiveExactZeros()
    {
        const auto r = qbprobe::identityCase();
        QCOMPARE(int(r.linears.size()), 2 * 7 + 1);
        for (const auto &l : r.linears) {
            QCOMPARE(l.weightRelMse, 0.0);
            QCOMPARE(l.relMse, 0.0);
            QCOMPARE(l.sqnrDb, kInf);
            QVERIFY2(near(l.cosine, 1.0, 1e-12), l.name.c_str());
            QCOMPARE(l.maxAbs, 0.0);
            QCOMPARE(l.kl, 0.0);
            QCOMPARE(l.tokens, int64_t(6 * 12));
            QCOMPARE(l.kind, std::string("dense"));
        }
        QCOMPARE(row(r, "model.layers.1.mlp.down_proj").layer, int64_t(1));
        QCOMPARE(row(r, "model.layers.1.mlp.down_proj").module, std::string("down_proj"));
        QCOMPARE(row(r, "lm_head").layer, int64_t(2));
        QCOMPARE(row(r, "lm_head").module, std::string("lm_head"));
        QCOMPARE(int(r.blockRel.size()), 2);
        for (size_t l = 0; l < 2; ++l) {
            QCOMPARE(r.blockRel[l], 0.0);
            QVERIFY(near(r.blockCos[l], 1.0, 1e-12));
        }
        QCOMPARE(r.klMean, 0.0);
        QCOMPARE(r.klMax, 0.0);
        QCOMPARE(r.positions, int64_t(72));
        QCOMPARE(r.predicted, int64_t(6 * 11));
        QCOMPARE(r.pplRef, r.pplQuant);
        QVERIFY(near(r.pplRef, handPerplexity(r, r.refLogits), 1e-9));
        // Dense layer: no levels; the default histogram layer is the first linear.
        QVERIFY(r.levels.empty());
        QCOMPARE(r.histogramLayer, std::string("model.layers.0.self_attn.q_proj"));
        QCOMPARE(r.histRef, r.histQuant);
    }

    void scaledWeightGivesHandComputedErrors()
    {
        const double e = 0.1;
        const std::string name = "model.layers.1.mlp.up_proj";
        const auto r = qbprobe::scaledCase(name, e);
        const auto &s = row(r, name);
        // W' = (1 + e) W: ||W' - W||^2 / ||W||^2 = e^2; Y' = (1 + e) Y likewise; cos = 1.
        QVERIFY2(near(s.weightRelMse, e * e, 1e-5), std::to_string(s.weightRelMse).c_str());
        QVERIFY2(near(s.relMse, e * e, 1e-5), std::to_string(s.relMse).c_str());
        QVERIFY2(near(s.sqnrDb, -10 * std::log10(e * e), 0, 1e-4),
                 std::to_string(s.sqnrDb).c_str());
        QVERIFY(near(s.cosine, 1.0, 1e-9));
        QVERIFY(s.maxAbs > 0);
        QVERIFY(s.kl > 0);
        // Every other layer sees reference inputs and has reference weights: exactly no error.
        for (const auto &l : r.linears)
            if (l.name != name) {
                QCOMPARE(l.relMse, 0.0);
                QCOMPARE(l.sqnrDb, kInf);
                QCOMPARE(l.kl, 0.0);
            }
        // Block 0 precedes the change; block 1 carries it.
        QCOMPARE(r.blockRel[0], 0.0);
        QVERIFY(r.blockRel[1] > 0);
        QVERIFY(r.blockCos[1] < 1.0);
        // Only that layer differs, so the model's KL is that layer's KL alone.
        QVERIFY(near(r.klMean, s.kl, 1e-9));
        QVERIFY2(near(r.klMean, handKlMean(r), 1e-6),
                 (std::to_string(r.klMean) + " vs " + std::to_string(handKlMean(r))).c_str());
        QVERIFY(near(r.pplQuant, handPerplexity(r, r.quantLogits), 1e-9));
        QVERIFY(near(r.pplRef, handPerplexity(r, r.refLogits), 1e-9));
    }

    void kurtosisMatchesFormula()
    {
        // Hand: mean 0, m2 = 8 / 8 = 1, m4 = 32 / 8 = 4.
        QVERIFY(near(qbprobe::kurtosis({-2, 0, 0, 0, 0, 0, 0, 2}), 4.0, 1e-12));
        // A symmetric two-point distribution has m4 = m2^2: kurtosis 1 whatever its mean.
        QVERIFY(near(qbprobe::kurtosis({5, 3, 5, 3}), 1.0, 1e-12));
        const std::vector<float> skewed = {1, -1, 1, -1, 3, 3, -1, 1};
        QVERIFY(near(qbprobe::kurtosis(skewed), handKurtosis(skewed), 1e-12));
        std::vector<float> w(32 * 32);
        for (size_t i = 0; i < w.size(); ++i) {
            const double u = double((i * 37) % 101) / 50.0 - 1.0;
            w[i] = float(u * u * u + 0.01 * double(i % 7));
        }
        const double expected = handKurtosis(w);
        QVERIFY(near(qbprobe::kurtosis(w), expected, 1e-9));
        QVERIFY(near(qbprobe::reportedKurtosis(w), expected, 1e-9));
    }

    void outlierStatisticsMatchTheInputs()
    {
        const int channel = 5;
        const float spike = 9.0f;
        const double threshold = 6.0;
        const auto r = qbprobe::outlierCase(channel, spike, threshold);
        QCOMPARE(r.q.name, std::string("model.layers.0.self_attn.q_proj"));
        // x = e / sqrt(mean(e^2) + eps) * w per token: what block 0's q_proj receives.
        double absmax = 0;
        int64_t outliers = 0;
        std::vector<double> channelMax(r.hidden, 0.0);
        for (int64_t id : r.ids) {
            const float *e = &r.embed[id * r.hidden];
            double ms = 0;
            for (int64_t j = 0; j < r.hidden; ++j)
                ms += double(e[j]) * e[j];
            const double inv = 1.0 / std::sqrt(ms / r.hidden + r.eps);
            for (int64_t j = 0; j < r.hidden; ++j) {
                const double x = std::fabs(e[j] * inv * r.norm[j]);
                absmax = std::max(absmax, x);
                outliers += x >= threshold;
                channelMax[j] = std::max(channelMax[j], x);
            }
        }
        int64_t channels = 0;
        for (double m : channelMax)
            channels += m >= threshold;
        QVERIFY(outliers > 0);
        QVERIFY2(near(r.q.actAbsmax, absmax, 1e-5), std::to_string(r.q.actAbsmax).c_str());
        QCOMPARE(r.q.actOutlierFraction, double(outliers) / double(r.ids.size() * r.hidden));
        QCOMPARE(r.q.actOutlierChannels, channels);
        QCOMPARE(r.q.tokens, int64_t(r.ids.size()));
    }

    void quantizedModelErrorGrowsWithDepth()
    {
        const auto r = qbprobe::quantizedCase(R"({"method": "nf4", "block_size": 64})", 4,
                                              "model.layers.2.mlp.down_proj");
        QVERIFY(r.klMean > 0);
        QVERIFY(r.klMax >= r.klMean);
        QVERIFY2(near(r.klMean, handKlMean(r), 1e-6),
                 (std::to_string(r.klMean) + " vs " + std::to_string(handKlMean(r))).c_str());
        QVERIFY(near(r.pplQuant, handPerplexity(r, r.quantLogits), 1e-9));
        QVERIFY(r.pplQuant != r.pplRef);
        QCOMPARE(int(r.blockRel.size()), 4);
        QVERIFY(r.blockRel[0] > 0);
        for (size_t l = 1; l < r.blockRel.size(); ++l)
            QVERIFY2(r.blockRel[l] > r.blockRel[l - 1],
                     ("block " + std::to_string(l) + ": " + std::to_string(r.blockRel[l])).c_str());
        for (double c : r.blockCos)
            QVERIFY(c < 1.0 && c > 0.9);
        for (const auto &l : r.linears) {
            if (l.name == "lm_head") { // not chosen by the quantize default: untouched
                QCOMPARE(l.relMse, 0.0);
                continue;
            }
            QVERIFY2(l.relMse > 0 && l.relMse < 0.1, l.name.c_str());
            QVERIFY(std::isfinite(l.sqnrDb) && l.sqnrDb > 10);
            QVERIFY(near(l.sqnrDb, -10 * std::log10(l.relMse), 1e-9));
            QVERIFY(l.cosine > 0.95 && l.cosine < 1.0);
            QVERIFY(l.weightRelMse > 0);
            QVERIFY(l.kl > 0);
            QCOMPARE(l.kind, std::string("nf4-b64"));
        }
        // down_proj [32, 64]: both histograms count every weight; levels = NF4 table x absmax.
        QCOMPARE(r.histogramLayer, std::string("model.layers.2.mlp.down_proj"));
        QCOMPARE(int(r.edges.size()), 65);
        int64_t refCount = 0, quantCount = 0;
        for (size_t i = 0; i < r.histRef.size(); ++i) {
            refCount += r.histRef[i];
            quantCount += r.histQuant[i];
        }
        QCOMPARE(refCount, int64_t(32 * 64));
        QCOMPARE(quantCount, int64_t(32 * 64));
        QCOMPARE(int(r.levels.size()), 16);
        QVERIFY(r.levelsSource.find("codebook") != std::string::npos);
        const double absmax = r.levels.back();
        for (int i = 0; i < 16; ++i)
            QVERIFY2(near(r.levels[i] / absmax, kNf4[i], 1e-6), std::to_string(i).c_str());
    }

    void intLevelsAreTheGroupGrid()
    {
        const auto r = qbprobe::quantizedCase(
            R"({"method": "int", "bits": 4, "group_size": 32, "symmetric": true})", 2, {});
        // Symmetric 4-bit: the 15 levels k * scale, k = -7..7.
        QCOMPARE(int(r.levels.size()), 15);
        const double scale = r.levels.back() / 7.0;
        for (int k = -7; k <= 7; ++k)
            QVERIFY(near(r.levels[k + 7], k * scale, 1e-6, 1e-12));
    }

    void greedyAllocatorPicksHandDerivedLayers()
    {
        // 600 parameters; all-low 300 bytes (4.0 bits/param), all-high 600 bytes (8.0).
        const std::vector<qb::LayerCost> table = {{"a", 100, 50, 100, 0.5},
                                                  {"b", 300, 150, 300, 0.9},
                                                  {"c", 100, 50, 100, 0.1},
                                                  {"d", 100, 50, 100, 0.3}};
        QCOMPARE(qb::sensitivityRanking(table), (std::vector<size_t>{1, 0, 3, 2}));
        // Budget 5.0 = 375 bytes: b (450) does not fit, a (350) does, then d (400) and c do not.
        auto a = qb::greedyAllocation(table, 5.0);
        QVERIFY(a.feasible);
        QCOMPARE(a.upgraded, (std::vector<bool>{true, false, false, false}));
        QVERIFY(near(a.bitsPerParam, 8.0 * 350 / 600, 1e-12));
        // Budget 7.0 = 525 bytes: b (450), a (500); d would make 550.
        a = qb::greedyAllocation(table, 7.0);
        QCOMPARE(a.upgraded, (std::vector<bool>{true, true, false, false}));
        QCOMPARE(a.upgradeOrder, (std::vector<size_t>{1, 0}));
        QVERIFY(near(a.bitsPerParam, 8.0 * 500 / 600, 1e-12));
        // Exactly on the budget counts as within it.
        a = qb::greedyAllocation(table, 8.0 * 500 / 600);
        QCOMPARE(a.upgraded, (std::vector<bool>{true, true, false, false}));
        a = qb::greedyAllocation(table, 8.0);
        QCOMPARE(a.upgraded, (std::vector<bool>(4, true)));
        a = qb::greedyAllocation(table, 3.5);
        QVERIFY(!a.feasible);
        QCOMPARE(a.upgraded, (std::vector<bool>(4, false)));
        QVERIFY(near(a.bitsPerParam, 4.0, 1e-12));
    }

    void sensitivityRanksAndAllocates()
    {
        const double budget = 5.0;
        const auto r = qbprobe::sensitivityCase(R"({"method": "nf4", "block_size": 64})",
                                                R"({"method": "int8"})", budget);
        QVERIFY2(!r.names.empty(), "the model changed during the analysis");
        QCOMPARE(int(r.names.size()), 2 * 7); // lm_head is not chosen
        int64_t params = 0, low = 0, high = 0;
        for (size_t i = 0; i < r.names.size(); ++i) {
            const int64_t n = r.in[i] * r.out[i];
            // nf4-b64: n / 2 code bytes + one float32 absmax per 64; int8: n + a float32 per row.
            QCOMPARE(r.lowBytes[i], n / 2 + 4 * ((n + 63) / 64));
            QCOMPARE(r.highBytes[i], n + 4 * r.out[i]);
            QVERIFY2(r.klLow[i] > r.klHigh[i] && r.klHigh[i] >= 0, r.names[i].c_str());
            params += n;
            low += r.lowBytes[i];
            high += r.highBytes[i];
        }
        for (size_t k = 1; k < r.ranking.size(); ++k)
            QVERIFY(r.klLow[r.ranking[k - 1]] >= r.klLow[r.ranking[k]]);
        QCOMPARE(int(r.curveBits.size()), 15);
        QVERIFY(near(r.curveBits.front(), 8.0 * low / params, 1e-12));
        QVERIFY(near(r.curveBits.back(), 8.0 * high / params, 1e-12));
        for (size_t k = 1; k < r.curveBits.size(); ++k)
            QVERIFY(r.curveBits[k] > r.curveBits[k - 1]);
        QVERIFY(r.curveKl.back() < r.curveKl.front());
        // Within budget, and maximal: no layer left at low bits would still fit.
        QVERIFY(r.feasible);
        QVERIFY(r.allocationBits <= budget + 1e-12);
        int64_t bytes = 0;
        for (size_t i = 0; i < r.names.size(); ++i)
            bytes += r.upgraded[i] ? r.highBytes[i] : r.lowBytes[i];
        QVERIFY(near(r.allocationBits, 8.0 * bytes / params, 1e-12));
        for (size_t i = 0; i < r.names.size(); ++i)
            if (!r.upgraded[i])
                QVERIFY(8.0 * (bytes - r.lowBytes[i] + r.highBytes[i]) > budget * params);
        // The most sensitive layer fits alone (an int8 MLP layer adds < 0.5 bits/param here).
        QVERIFY(r.upgraded[r.ranking[0]]);
        size_t upgraded = 0;
        for (bool u : r.upgraded)
            upgraded += u;
        QCOMPARE(r.overrides.size(), upgraded);
        QCOMPARE(r.overrides.front(), r.names[r.ranking[0]] + ": method=int8");
        QVERIFY(r.allocationKl < r.curveKl.front());
    }

    void nodesRunThroughTheExecutor()
    {
        const fs::path root = qbtest::makeTempDir("layer_error_nodes");
        const std::string yaml = R"(schema_version: 1
name: analysis
seed: 7
nodes:
  - {id: base, type: model.random, params: {vocab_size: 256, hidden_size: 32,
     intermediate_size: 64, layers: 2, heads: 4, kv_heads: 2, max_positions: 128}}
  - {id: gsm, type: dataset.gsm8k, params: {limit: 10}}
  - {id: nf4, type: quantize, inputs: {model: base}, params: {method: nf4, block_size: 64}}
  - {id: err, type: analyze.layer_error,
     inputs: {reference: base, quantized: nf4, calibration: gsm},
     params: {calibration: {samples: 4, seq_len: 32}}}
  - {id: gen, type: analyze.layer_error, inputs: {reference: base, quantized: nf4},
     params: {calibration: {samples: 2, seq_len: 16}, layer_kl: false,
              histogram_layer: model.layers.1.mlp.down_proj}}
  - {id: sens, type: analyze.sensitivity, inputs: {model: base},
     params: {calibration: {samples: 4, seq_len: 16, source: random}, budget_bits: 5.0}}
)";
        const auto &registry = qb::builtinRegistry();
        std::vector<qb::Event> events;
        qb::RunOptions opt;
        opt.outDir = root / "run";
        opt.cacheDir = root / "cache";
        qb::CancelToken cancel;
        auto summary = qb::runExperiment(qb::parseExperiment(yaml, "analysis.yaml", registry),
                                         registry, opt, [&](const qb::Event &e) {
                                             events.push_back(e);
                                         }, cancel);
        QVERIFY2(summary.status == "ok", summary.error.c_str());

        // layer_error events as ui/layer_error_chart.cpp reads them: integer layer, string module.
        int layerEvents = 0, histograms = 0;
        for (const auto &e : events) {
            if (e.kind != qb::Event::Kind::Metric)
                continue;
            if (e.name == "layer_error" && e.node == "err") {
                ++layerEvents;
                QVERIFY(e.data["layer"].is_number_integer());
                QVERIFY(e.data["module"].is_string());
                for (const char *k : {"rel_mse", "cosine", "max_abs", "kl", "weight_rel_mse"})
                    QVERIFY2(e.data[k].is_number(), k);
                QVERIFY(e.data["sqnr_db"].is_number() || e.data["name"] == "lm_head");
            }
            if (e.name == "weight_histogram")
                ++histograms;
        }
        QCOMPARE(layerEvents, 15);
        QCOMPARE(histograms, 2);

        int layerRows = 0, blockRows = 0, modelRows = 0, curveRows = 0;
        json allocation;
        for (const auto &r : summary.results["results"]) {
            const std::string kind = r.value("analysis", "");
            layerRows += kind == "layer_error.layer";
            blockRows += kind == "layer_error.block";
            curveRows += kind == "sensitivity.curve";
            if (kind == "layer_error.model") {
                ++modelRows;
                QVERIFY(r["kl_mean"].get<double>() > 0);
                QCOMPARE(r["quantized"].get<std::string>(), std::string("nf4"));
            }
            if (kind == "sensitivity.allocation")
                allocation = r;
        }
        QCOMPARE(layerRows, 30);
        QCOMPARE(blockRows, 4);
        QCOMPARE(modelRows, 2);
        QCOMPARE(curveRows, 15);
        QVERIFY(allocation.is_object());
        const json hist = json::parse(
            qbtest::readFile(summary.runDir / "nodes" / "gen" / "weight_histogram.json"));
        QCOMPARE(hist["layer"].get<std::string>(), std::string("model.layers.1.mlp.down_proj"));
        QCOMPARE(hist["levels"].size(), size_t(16));
        const json fromFile = json::parse(
            qbtest::readFile(summary.runDir / "nodes" / "sens" / "allocation.json"));
        QCOMPARE(fromFile["overrides"], allocation["overrides"]);
        QVERIFY(!allocation["overrides"].empty());

        // The overrides are accepted by the quantize node and give the allocation's bits/param.
        std::string overrides;
        for (const auto &o : allocation["overrides"])
            overrides += (overrides.empty() ? "" : ", ") + o.dump();
        const std::string mixed = std::string(R"(schema_version: 1
name: mixed
seed: 7
nodes:
  - {id: base, type: model.random, params: {vocab_size: 256, hidden_size: 32,
     intermediate_size: 64, layers: 2, heads: 4, kv_heads: 2, max_positions: 128}}
  - {id: mix, type: quantize, inputs: {model: base},
     params: {method: nf4, block_size: 64, overrides: [)")
            + overrides + "]}}\n";
        opt.outDir = root / "run2";
        summary = qb::runExperiment(qb::parseExperiment(mixed, "mixed.yaml", registry), registry,
                                    opt, [](const qb::Event &) {}, cancel);
        QVERIFY2(summary.status == "ok", summary.error.c_str());
        double bits = -1;
        for (const auto &r : summary.results["results"])
            if (r.value("node", "") == "mix")
                bits = r["bits_per_param"];
        QVERIFY2(near(bits, allocation["bits_per_param"].get<double>(), 1e-12),
                 std::to_string(bits).c_str());
        fs::remove_all(root);
    }
};

QTEST_MAIN(TestLayerError)
#include "tst_layer_error.moc"
