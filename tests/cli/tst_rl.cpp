// quantbench-cli rl loss as a user drives it: a batch written here with the safetensors writer,
// the printed loss, clip fraction, KL and advantages compared with values worked out by hand from
// TRL's GRPO definitions, and the errors for a missing tensor and a B that is not a multiple of G.
#include "io/safetensors.h"
#include "support/cli_runner.h"

#include <nlohmann/json.hpp>

#include <QtTest>

#include <algorithm>
#include <fstream>
#include <cmath>

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

qbtest::CliResult cli(const QStringList &args, const fs::path &cache)
{
    return qbtest::runCli(args, cache, {{}, {}, 120000});
}

using qbtest::str;

qb::io::TensorWrite f32(const std::string &name, std::vector<int64_t> shape,
                        const std::vector<float> &v)
{
    return {name, qb::io::DType::F32, std::move(shape), v.data(), v.size() * sizeof(float)};
}

// B = 2, T = 3 with old logps -1: sequence 0 (reward 1) has ratios 1.1, 1.5, 0.5; sequence 1
// (reward 0) has ratio 0.5 on its single token and two padding tokens. The mask is uint8.
struct Batch
{
    std::vector<float> old = std::vector<float>(6, -1.0f);
    std::vector<float> policy{float(-1 + std::log(1.1)), float(-1 + std::log(1.5)),
                              float(-1 + std::log(0.5)), float(-1 + std::log(0.5)),
                              float(-1 + std::log(3.0)), float(-1 + std::log(3.0))};
    std::vector<float> ref{-1.5f, -1.5f, -1.5f, -1.5f, 0.0f, 0.0f};
    std::vector<uint8_t> mask{1, 1, 1, 1, 0, 0};
    std::vector<float> rewards{1, 0};

    void write(const fs::path &path, const std::string &skip = {}) const
    {
        std::vector<qb::io::TensorWrite> t{f32("policy_logps", {2, 3}, policy),
                                           f32("old_logps", {2, 3}, old),
                                           f32("ref_logps", {2, 3}, ref),
                                           {"completion_mask", qb::io::DType::U8, {2, 3},
                                            mask.data(), mask.size()},
                                           f32("rewards", {2}, rewards)};
        t.erase(std::remove_if(t.begin(), t.end(), [&](const auto &w) { return w.name == skip; }),
                t.end());
        qb::io::writeSafetensors(path, t);
    }
};

bool near(double a, double b) { return std::fabs(a - b) < 1e-5; }

} // namespace

class TestCliRl : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void lossByHand()
    {
        const fs::path tmp = qbtest::makeTempDir("clirl");
        Batch().write(tmp / "batch.safetensors");
        // --scale none: A = +0.5, -0.5. Per-token -min(r A, clip(r, 0.8, 1.2) A):
        // seq 0: -0.55, -0.6 (clipped high), -0.25 (sum -1.4); seq 1: +0.4 (clipped low).
        // dapo = bnpo: (-1.4 + 0.4) / 4 = -0.25; grpo: (-1.4 / 3 + 0.4) / 2 = -0.0333333.
        const QStringList base{"rl", "loss", "--input", str(tmp / "batch.safetensors"),
                               "--group-size", "2", "--scale", "none", "--json"};
        auto r = cli(base, tmp / "cache");
        QVERIFY2(r.code == 0, qPrintable(r.err));
        json j = json::parse(r.out.toStdString());
        QVERIFY(near(j["loss"].get<double>(), -0.25));
        QCOMPARE(j["loss_type"].get<std::string>(), std::string("dapo"));
        QCOMPARE(j["completion_tokens"].get<int>(), 4);
        QVERIFY(near(j["clip_fraction"].get<double>(), 0.5));
        QVERIFY(near(j["clip_low"].get<double>(), 0.25));
        QVERIFY(near(j["clip_high"].get<double>(), 0.25));
        QVERIFY(near(j["mean_kl"].get<double>(), 0.0));
        QVERIFY(near(j["advantages"][0].get<double>(), 0.5));
        QVERIFY(near(j["advantages"][1].get<double>(), -0.5));

        r = cli(base + QStringList{"--loss", "grpo"}, tmp / "cache");
        QVERIFY2(r.code == 0, qPrintable(r.err));
        QVERIFY(near(json::parse(r.out.toStdString())["loss"].get<double>(), -0.0333333));
        r = cli(base + QStringList{"--loss", "dr_grpo", "--max-completion-length", "4"},
                tmp / "cache");
        QVERIFY2(r.code == 0, qPrintable(r.err));
        QVERIFY(near(json::parse(r.out.toStdString())["loss"].get<double>(), -0.125));
    }

    void groupScaleAndKl()
    {
        const fs::path tmp = qbtest::makeTempDir("clirl");
        Batch().write(tmp / "batch.safetensors");
        // Group scale: std of {1, 0} = 0.707107, A = 0.5 / 0.707207 = 0.707007.
        // k3 with ref -1.5 on the four completion tokens, d = ref - logp:
        //   d = -0.5 - ln 1.1, -0.5 - ln 1.5, -0.5 + ln 2, -0.5 + ln 2
        //   exp(d) - d - 1 = 0.146702, 0.309819, 0.019914, 0.019914 -> mean 0.124087.
        // loss = dapo surrogate (-1.4 A / 0.5 + 0.4 A / 0.5) / 4 + 0.05 * 0.124087
        //      = -0.353503 + 0.006204 = -0.347299.
        auto r = cli({"rl", "loss", "--input", str(tmp / "batch.safetensors"), "--group-size",
                      "2", "--beta", "0.05", "--json"},
                     tmp / "cache");
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const json j = json::parse(r.out.toStdString());
        QVERIFY(near(j["advantages"][0].get<double>(), 0.707007));
        QVERIFY(near(j["mean_kl"].get<double>(), 0.124087));
        QVERIFY2(near(j["loss"].get<double>(), -0.347299), j.dump().c_str());

        r = cli({"rl", "loss", "--input", str(tmp / "batch.safetensors"), "--group-size", "2"},
                tmp / "cache");
        QCOMPARE(r.code, 0);
        QVERIFY(r.out.contains("clip_fraction"));
    }

    void errorsNameTheTensor()
    {
        const fs::path tmp = qbtest::makeTempDir("clirl");
        Batch().write(tmp / "no_rewards.safetensors", "rewards");
        auto r = cli({"rl", "loss", "--input", str(tmp / "no_rewards.safetensors"),
                      "--group-size", "2"},
                     tmp / "cache");
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("no_rewards.safetensors") && r.err.contains("'rewards'")
                     && r.err.contains("missing"),
                 qPrintable(r.err));

        Batch().write(tmp / "batch.safetensors");
        r = cli({"rl", "loss", "--input", str(tmp / "batch.safetensors"), "--group-size", "3"},
                tmp / "cache");
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("'rewards'") && r.err.contains("multiple of --group-size 3"),
                 qPrintable(r.err));

        Batch().write(tmp / "no_ref.safetensors", "ref_logps");
        r = cli({"rl", "loss", "--input", str(tmp / "no_ref.safetensors"), "--group-size", "2",
                 "--beta", "0.1"},
                tmp / "cache");
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("'ref_logps'"), qPrintable(r.err));
    }

    // The grpo node end to end from a project: INT2 base -> 3 GRPO steps -> evaluate. The node
    // writes a PEFT adapter folder over the quantized base (which loads as one model for the
    // evaluation), its per-step reward events, and a result row with the time shares.
    void grpoNodeRunsFromAProject()
    {
        const fs::path tmp = fs::temp_directory_path() / "qb_tst_rl_grpo";
        fs::remove_all(tmp);
        fs::create_directories(tmp);
        const fs::path proj = tmp / "grpo.yaml";
        std::ofstream(proj) << R"(schema_version: 1
name: grpo-cli
nodes:
  - {id: base, type: model.builtin, params: {preset: tiny-reasoner}}
  - {id: train, type: dataset.gsm8k, params: {source: synthetic, split: train, limit: 32}}
  - {id: test, type: dataset.gsm8k, params: {source: synthetic, split: test, limit: 16}}
  - {id: int2, type: quantize, inputs: {model: base}, params: {method: int, bits: 2, group_size: 64}}
  - id: rl
    type: grpo
    inputs: {model: int2, train: [train]}
    params: {steps: 3, prompts_per_step: 2, num_generations: 4, beta: 0.05, temperature: 1.5,
             max_completion_length: 100, rewards: {correctness: 1.0, format: 0.2}}
  - {id: ev, type: evaluate, inputs: {models: [rl], datasets: [test]}, params: {batch_size: 16}}
)";
        const auto r = cli({"run", str(proj), "--out", str(tmp / "run")}, tmp / "cache");
        QVERIFY2(r.code == 0, qPrintable(r.err + r.out));
        const fs::path out = tmp / "run" / "nodes" / "rl";
        QVERIFY(fs::exists(out / "adapter_config.json"));
        QVERIFY(fs::exists(out / "adapter_model.safetensors"));
        const json adapter = json::parse(std::ifstream(out / "adapter_config.json"));
        // The base is the INT2 node's output folder (in the node cache), not a copy.
        const fs::path base = adapter.at("base_model_name_or_path").get<std::string>();
        QVERIFY2(fs::exists(base / "config.json"), base.c_str());
        QVERIFY(base != out);
        int rewards = 0, kl = 0, components = 0;
        std::ifstream events(tmp / "run" / "events.jsonl");
        for (std::string line; std::getline(events, line);) {
            const json e = json::parse(line);
            if (e.value("node", "") != "rl" || e.value("kind", "") != "metric")
                continue;
            rewards += e["name"] == "reward";
            kl += e["name"] == "kl";
            components += e["name"] == "reward/correctness" || e["name"] == "reward/format";
        }
        QCOMPARE(rewards, 3);
        QCOMPARE(kl, 3);
        QCOMPARE(components, 6);
        const json results = json::parse(std::ifstream(tmp / "run" / "results.json"));
        bool row = false, evaluated = false;
        for (const auto &x : results.at("results")) {
            if (x.value("node", "") == "rl" && x.value("task", "") == "grpo") {
                row = true;
                QCOMPARE(x.at("steps").get<int>(), 3);
                QVERIFY(x.at("generation_share").get<double>() > 0.0);
                QVERIFY(x.at("generation_share").get<double>() < 1.0);
            }
            if (x.value("node", "") == "ev" && x.value("model", "") == "rl")
                evaluated = x.at("n").get<int>() == 16;
        }
        QVERIFY(row);
        QVERIFY(evaluated);
        fs::remove_all(tmp);
    }

    void helpAndUsage()
    {
        const fs::path tmp = qbtest::makeTempDir("clirl");
        auto r = cli({"rl", "loss", "--help"}, tmp / "cache");
        QCOMPARE(r.code, 0);
        for (const char *name : {"policy_logps", "old_logps", "ref_logps", "completion_mask",
                                 "rewards"})
            QVERIFY2(r.out.contains(name), name);
        r = cli({"--help"}, tmp / "cache");
        QVERIFY(r.out.contains("\n  rl "));
        r = cli({"rl", "loss", "--input", "x.safetensors", "--loss", "ppo"}, tmp / "cache");
        QCOMPARE(r.code, 2);
        r = cli({"rl", "loss"}, tmp / "cache");
        QCOMPARE(r.code, 2);
    }
};

QTEST_GUILESS_MAIN(TestCliRl)
#include "tst_rl.moc"
