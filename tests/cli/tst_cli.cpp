// quantbench-cli as a user drives it: help, exit codes, a headless run of the smoke project with
// its run folder, resume from cache, and clear errors for bad experiment files.
#include "support/cli_runner.h"

#include <nlohmann/json.hpp>

#include <QtTest>

namespace fs = std::filesystem;

namespace {

qbtest::CliResult cli(const QStringList &args, const fs::path &cache, const fs::path &cwd = {})
{
    return qbtest::runCli(args, cache, {cwd, {}, 120000});
}

QString smokeProject()
{
    return QString::fromStdString((qbtest::sourceDir() / "projects" / "smoke.yaml").string());
}

} // namespace

class TestCli : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void helpAndUsage()
    {
        const fs::path tmp = qbtest::makeTempDir("cli");
        auto r = cli({"--help"}, tmp);
        QCOMPARE(r.code, 0);
        QVERIFY(r.out.contains("run "));
        r = cli({"run", "--help"}, tmp);
        QCOMPARE(r.code, 0);
        QVERIFY(r.out.contains("--out DIR"));
        r = cli({"frobnicate"}, tmp);
        QCOMPARE(r.code, 2);
        QVERIFY(r.err.contains("unknown command 'frobnicate'"));
        r = cli({"run", smokeProject(), "--bogus"}, tmp);
        QCOMPARE(r.code, 2);
        QVERIFY(r.err.contains("unknown option --bogus"));
    }

    void runsSmokeProjectAndResumesFromCache()
    {
        const fs::path tmp = qbtest::makeTempDir("cli");
        const fs::path out = tmp / "run1";
        auto r = cli({"run", smokeProject(), "--out", QString::fromStdString(out.string())},
                     tmp / "cache");
        QVERIFY2(r.code == 0, qPrintable(r.out + r.err));
        QVERIFY(r.out.contains("run ok"));
        const auto results = nlohmann::json::parse(qbtest::readFile(out / "results.json"));
        QCOMPARE(results["status"].get<std::string>(), std::string("ok"));
        QCOMPARE(results["results"][0]["generated_tokens"].get<int>(), 48); // 2 prompts x 24
        QVERIFY(fs::exists(out / "nodes" / "gen" / "completions.jsonl"));
        QVERIFY(fs::exists(out / "events.jsonl"));
        QVERIFY(fs::exists(out / "experiment.yaml"));

        const fs::path out2 = tmp / "run2";
        r = cli({"run", smokeProject(), "--out", QString::fromStdString(out2.string())}, tmp / "cache");
        QCOMPARE(r.code, 0);
        QVERIFY2(r.out.contains("tiny: cached") && r.out.contains("gen: cached"), qPrintable(r.out));
        // Same seed, same threads: the same completions, byte for byte.
        QCOMPARE(qbtest::readFile(out2 / "nodes" / "gen" / "completions.jsonl"),
                 qbtest::readFile(out / "nodes" / "gen" / "completions.jsonl"));

        r = cli({"run", smokeProject(), "--out", QString::fromStdString(out.string())}, tmp / "cache");
        QCOMPARE(r.code, 1);
        QVERIFY(r.err.contains("already exists"));
    }

    void badExperimentFileNamesFileAndLine()
    {
        const fs::path tmp = qbtest::makeTempDir("cli");
        const fs::path bad = tmp / "bad.yaml";
        qbtest::writeFile(bad, "schema_version: 1\nname: x\nnodes:\n"
                               "  - {id: m, type: model.random, params: {layers: many}}\n");
        auto r = cli({"run", QString::fromStdString(bad.string())}, tmp / "cache", tmp);
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("bad.yaml:4: nodes[0].params.layers: expected an integer, got 'many'"),
                 qPrintable(r.err));
        QVERIFY(!fs::exists(tmp / "runs")); // nothing was started
        r = cli({"run", QString::fromStdString((tmp / "missing.yaml").string())}, tmp / "cache");
        QCOMPARE(r.code, 1);
        QVERIFY(r.err.contains("missing.yaml: cannot open"));
        r = cli({"validate", smokeProject()}, tmp / "cache");
        QCOMPARE(r.code, 0);
        QVERIFY(r.out.contains("order: tiny gen"));
    }

    void failingNodeGivesNonZeroExitAndKeepsRunFolder()
    {
        const fs::path tmp = qbtest::makeTempDir("cli");
        const fs::path proj = tmp / "fail.yaml";
        qbtest::writeFile(proj, "schema_version: 1\nname: f\nnodes:\n"
                                "  - {id: m, type: model.load, params: {path: /nonexistent/model}}\n");
        const fs::path out = tmp / "run";
        auto r = cli({"run", QString::fromStdString(proj.string()), "--out",
                      QString::fromStdString(out.string())}, tmp / "cache");
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("node 'm' (model.load): /nonexistent/model: model folder does not exist"),
                 qPrintable(r.err));
        const auto results = nlohmann::json::parse(qbtest::readFile(out / "results.json"));
        QCOMPARE(results["status"].get<std::string>(), std::string("failed"));
    }

    void setParameterOverridesTheFileAndIsRecorded()
    {
        const fs::path tmp = qbtest::makeTempDir("cli");
        const QString project = QString::fromStdString(
            (qbtest::sourceDir() / "projects" / "real-model-study.yaml").string());
        // Without a model folder the study stops at once, naming the folder it expected.
        auto r = cli({"run", project, "--out", QString::fromStdString((tmp / "none").string())},
                     tmp / "cache", qbtest::sourceDir());
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("models/your-model: model folder does not exist"), qPrintable(r.err));
        QVERIFY2(r.err.contains("--set model.path=DIR"), qPrintable(r.err));
        // Bad assignments name themselves and what is wrong.
        r = cli({"run", project, "--set", "nosuch.path=x"}, tmp / "cache");
        QVERIFY2(r.code != 0 && r.err.contains("--set 'nosuch.path=x': the experiment has no node"),
                 qPrintable(r.err));
        r = cli({"run", project, "--set", "gsm.limit=many"}, tmp / "cache");
        QVERIFY2(r.code != 0 && r.err.contains("--set 'gsm.limit=many'") && r.err.contains("limit"),
                 qPrintable(r.err));
        r = cli({"run", project, "--set=gsm"}, tmp / "cache");
        QVERIFY2(r.code != 0 && r.err.contains("expected NODE.PARAM=VALUE"), qPrintable(r.err));

        // The whole study on a tiny random model in HF layout, shrunk with --set (nested keys too).
        const fs::path data = qbtest::sharedDataDir();
        if (data.empty())
            QSKIP("../shared/data (GSM8K files) is absent");
        const fs::path rnd = tmp / "rnd.yaml";
        qbtest::writeFile(rnd, "schema_version: 1\nname: rnd\nseed: 3\nnodes:\n"
                               "  - {id: rnd, type: model.random, params: {vocab_size: 256, "
                               "hidden_size: 32, intermediate_size: 64, layers: 2, heads: 4, "
                               "kv_heads: 2, max_positions: 2048}}\n");
        r = cli({"run", QString::fromStdString(rnd.string()), "--out",
                 QString::fromStdString((tmp / "rnd").string())}, tmp / "cache");
        QVERIFY2(r.code == 0, qPrintable(r.err));
        // The study shrunk to seconds, plus `extra` assignments, into run folder `out`.
        auto runStudy = [&](const fs::path &out, const QStringList &extra) {
            QStringList args = {"run", project, "--out", QString::fromStdString(out.string()),
                                "--quiet"};
            for (const std::string &s :
                 {"model.path=" + (tmp / "rnd" / "nodes" / "rnd").string(),
                  "gsm.path=" + (data / "gsm8k" / "test.jsonl").string(),
                  "gsm_train.path=" + (data / "gsm8k" / "train.jsonl").string(),
                  std::string("gsm.limit=3"), std::string("gsm_train.limit=40"),
                  std::string("qlora.steps=2"), std::string("qlora.batch_size=2"),
                  std::string("gptq4.calibration.samples=4"),
                  std::string("gptq4.calibration.seq_len=32"),
                  std::string("eval.decoding.max_new_tokens=8")})
                args << "--set" << QString::fromStdString(s);
            return cli(args + extra, tmp / "cache");
        };
        const fs::path out = tmp / "study";
        r = runStudy(out, {"--set", "eval.num_fewshot=1"});
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const auto results = nlohmann::json::parse(qbtest::readFile(out / "results.json"));
        int evalRows = 0;
        for (const auto &row : results["results"])
            if (row.contains("accuracy")) {
                ++evalRows;
                QCOMPARE(row["n"].get<int>(), 3);
            }
        QCOMPARE(evalRows, 6); // fp32, int8, nf4, gptq4, w4a4, qlora on the 3 questions
        const std::string resolved = qbtest::readFile(out / "experiment.yaml");
        QVERIFY2(resolved.find("max_new_tokens: 8") != std::string::npos, resolved.c_str());
        QVERIFY(resolved.find("steps: 2") != std::string::npos);

        // lm-eval's gsm8k k-shot (5 there; 2 here, to fit the byte-level model's 2048
        // positions): k training questions before each test question.
        const fs::path out5 = tmp / "study5";
        r = runStudy(out5, {"--up-to", "eval", "--set", "eval.num_fewshot=2", "--set",
                            "eval.gsm_format=gsm8k"});
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const std::string records
            = qbtest::readFile(out5 / "nodes" / "eval" / "records" / "model__gsm.jsonl");
        const auto first = nlohmann::json::parse(records.substr(0, records.find('\n')));
        const std::string prompt = first["prompt"].get<std::string>();
        size_t questions = 0;
        for (size_t at = prompt.find("Question: "); at != std::string::npos;
             at = prompt.find("Question: ", at + 1))
            ++questions;
        QCOMPARE(questions, size_t(3));
    }

    void chatPromptsGoThroughTheModelsTemplate()
    {
        const fs::path tmp = qbtest::makeTempDir("cli");
        // A tiny random model with Qwen2's tokenizer files (151,665 ids) beside its weights.
        const fs::path model = qbtest::qwenLikeModel(
            tmp, "qwen-like", "hidden_size: 16, intermediate_size: 32, layers: 1, heads: 2, "
                              "kv_heads: 1, max_positions: 512");
        if (model.empty())
            QSKIP("../shared/data/tokenizers/qwen2 is absent");
        qbtest::CliResult r;
        const fs::path proj = tmp / "chat.yaml";
        qbtest::writeFile(proj, "schema_version: 1\nname: chat\nseed: 1\nnodes:\n"
                                "  - {id: m, type: model.load, params: {path: " + model.string()
                                    + "}}\n"
                                "  - {id: gsm, type: dataset.gsm8k, params: {limit: 2}}\n"
                                "  - {id: ev, type: evaluate, inputs: {models: [m], datasets: "
                                "[gsm]}, params: {chat: true, decoding: {max_new_tokens: 3}}}\n");
        const fs::path out = tmp / "run";
        r = cli({"run", QString::fromStdString(proj.string()), "--out",
                 QString::fromStdString(out.string()), "--quiet"}, tmp / "cache");
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const std::string records = qbtest::readFile(out / "nodes" / "ev" / "records" / "m__gsm.jsonl");
        const auto first = nlohmann::json::parse(records.substr(0, records.find('\n')));
        const std::string prompt = first["prompt"].get<std::string>();
        // The template of ../shared/data/tokenizers/qwen2 (Qwen2.5's): its default system turn,
        // the user turn holding the gsm8k prompt, then the assistant's opening.
        const std::string open = "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You "
                                 "are a helpful assistant.<|im_end|>\n<|im_start|>user\nQuestion: ";
        QVERIFY2(prompt.rfind(open, 0) == 0, prompt.c_str());
        const std::string close = "\nAnswer:<|im_end|>\n<|im_start|>assistant\n";
        QVERIFY2(prompt.size() > close.size()
                     && prompt.compare(prompt.size() - close.size(), close.size(), close) == 0,
                 prompt.c_str());
        const auto results = nlohmann::json::parse(qbtest::readFile(out / "results.json"));
        bool labelled = false;
        for (const auto &row : results["results"])
            labelled |= row.value("label", "").find(" chat") != std::string::npos;
        QVERIFY(labelled);
        // k-shot through the template: each exemplar a user turn and an assistant turn (lm-eval's
        // --fewshot_as_multiturn), then the question; Wei et al.'s first two exemplars.
        qbtest::writeFile(proj, "schema_version: 1\nname: chat\nseed: 1\nnodes:\n"
                                "  - {id: m, type: model.load, params: {path: " + model.string()
                                    + "}}\n"
                                "  - {id: gsm, type: dataset.gsm8k, params: {limit: 2}}\n"
                                "  - {id: ev, type: evaluate, inputs: {models: [m], datasets: "
                                "[gsm]}, params: {chat: true, gsm_format: gsm8k_cot, "
                                "num_fewshot: 2, decoding: {max_new_tokens: 3}}}\n");
        r = cli({"run", QString::fromStdString(proj.string()), "--out",
                 QString::fromStdString((tmp / "run-kshot").string()), "--quiet"}, tmp / "cache");
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const std::string kRecords
            = qbtest::readFile(tmp / "run-kshot" / "nodes" / "ev" / "records" / "m__gsm.jsonl");
        const std::string kPrompt
            = nlohmann::json::parse(kRecords.substr(0, kRecords.find('\n')))["prompt"];
        const std::string shots
            = "<|im_start|>user\nQ: There are 15 trees in the grove. Grove workers will plant "
              "trees in the grove today. After they are done, there will be 21 trees. How many "
              "trees did the grove workers plant today?\nA:<|im_end|>\n<|im_start|>assistant\n"
              "There are 15 trees originally. Then there were 21 trees after some more were "
              "planted. So there must have been 21 - 15 = 6. The answer is 6.<|im_end|>\n"
              "<|im_start|>user\nQ: If there are 3 cars in the parking lot and 2 more cars "
              "arrive, how many cars are in the parking lot?\nA:<|im_end|>\n"
              "<|im_start|>assistant\nThere are originally 3 cars. 2 more cars arrive. 3 + 2 = 5. "
              "The answer is 5.<|im_end|>\n<|im_start|>user\nQ: ";
        QVERIFY2(kPrompt.find(shots) != std::string::npos, kPrompt.c_str());
        const std::string kClose = "\nA:<|im_end|>\n<|im_start|>assistant\n";
        QVERIFY(kPrompt.compare(kPrompt.size() - kClose.size(), kClose.size(), kClose) == 0);
        // The built-in word-level model has no template: a clear error.
        qbtest::writeFile(proj, "schema_version: 1\nname: chat\nseed: 1\nnodes:\n"
                                "  - {id: m, type: model.load, params: {path: "
                                    + (tmp / "qwen-like-run" / "nodes" / "rnd").string() + "}}\n"
                                "  - {id: gsm, type: dataset.gsm8k, params: {limit: 2}}\n"
                                "  - {id: ev, type: evaluate, inputs: {models: [m], datasets: "
                                "[gsm]}, params: {chat: true, decoding: {max_new_tokens: 3}}}\n");
        r = cli({"run", QString::fromStdString(proj.string()), "--out",
                 QString::fromStdString((tmp / "run2").string())}, tmp / "cache");
        QVERIFY2(r.code == 1 && r.err.contains("has no chat template"), qPrintable(r.err));
    }

    void decodingSweepDrawsKShotPromptsFromItsFewshotInput()
    {
        // lm-eval's gsm8k task (k shots per question from the train split) inside a decoding
        // sweep: each prompt holds 2 worked examples from the connected split, then the question.
        const fs::path tmp = qbtest::makeTempDir("cli");
        qbtest::writeFile(tmp / "sw.yaml",
                          "schema_version: 1\nname: sw\nseed: 1\nnodes:\n"
                          "  - {id: base, type: model.builtin, params: {preset: tiny-reasoner}}\n"
                          "  - {id: gsm, type: dataset.gsm8k, params: {split: test, limit: 2}}\n"
                          "  - {id: train, type: dataset.gsm8k, params: {split: train, limit: 50}}\n"
                          "  - {id: sweep, type: evaluate.sweep, inputs: {models: [base], "
                          "datasets: [gsm], fewshot: [train]}, params: {temperatures: [0], "
                          "prompt_styles: [cot], samples: [1], num_fewshot: 2, "
                          "max_new_tokens: 4}}\n");
        auto r = cli({"run", qbtest::str(tmp / "sw.yaml"), "--out", qbtest::str(tmp / "run"), "--quiet"},
                     tmp / "cache");
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const std::string records = qbtest::readFile(
            tmp / "run" / "nodes" / "sweep" / "records" / "base__gsm__cot_t0_p1_k0_maj1.jsonl");
        const auto rows = qbtest::jsonLines(QString::fromStdString(records));
        QCOMPARE(rows.size(), size_t(2));
        for (const auto &row : rows) {
            const QString prompt = QString::fromStdString(row["prompt"].get<std::string>());
            QCOMPARE(prompt.count("Question: "), 3);
            QCOMPARE(prompt.count("\n#### "), 2); // the shots' answers
            QVERIFY(prompt.endsWith("\nAnswer:"));
        }
    }

    void infoReportsOpenBlasAndThreads()
    {
        const fs::path tmp = qbtest::makeTempDir("cli");
        auto r = cli({"info", "--threads", "2"}, tmp);
        QVERIFY2(r.code == 0, qPrintable(r.out + r.err));
        QVERIFY(r.out.contains("threads: 2"));
        // The core's at::parallel_for runs on both threads (it ran on one while the core was
        // built without -fopenmp).
        QVERIFY2(r.out.contains("parallel loop threads: 2"), qPrintable(r.out));
        QVERIFY(r.out.contains("openblas: yes"));
    }
};

QTEST_GUILESS_MAIN(TestCli)
#include "tst_cli.moc"
