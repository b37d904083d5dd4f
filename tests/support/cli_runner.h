// Runs the built quantbench-cli the way a user does, for the cli tests: arguments, an isolated node
// cache ($QB_CACHE_DIR), optional working folder and standard input. Qt (QProcess), header-only,
// so the std-only test_support stays usable from torch-side probes.
#pragma once
#include "support/test_support.h"

#include <QProcess>
#include <QStringList>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <utility>
#include <vector>

namespace qbtest {

struct CliResult
{
    int code = -1; // -1 when the program did not start or did not finish in time
    QString out;
    QString err;
};

struct CliOptions
{
    std::filesystem::path cwd; // empty: the test's own working folder
    QByteArray input;          // written to standard input, which is then closed
    int timeoutMs = 120000;
    std::vector<std::pair<QString, QString>> environment; // set on top of this process's
};

inline CliResult runCli(const QStringList &args, const std::filesystem::path &cache,
                        const CliOptions &options = {})
{
    QProcess p;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert("QB_CACHE_DIR", QString::fromStdString(cache.string()));
    for (const auto &[name, value] : options.environment)
        env.insert(name, value);
    p.setProcessEnvironment(env);
    if (!options.cwd.empty())
        p.setWorkingDirectory(QString::fromStdString(options.cwd.string()));
    p.start(QString::fromStdString((binDir() / "quantbench-cli").string()), args);
    if (!p.waitForStarted(60000))
        return {};
    p.write(options.input);
    p.closeWriteChannel();
    if (!p.waitForFinished(options.timeoutMs))
        return {};
    return {p.exitCode(), QString::fromUtf8(p.readAllStandardOutput()),
            QString::fromUtf8(p.readAllStandardError())};
}

inline QString str(const std::filesystem::path &p) { return QString::fromStdString(p.string()); }

// One JSON value per non-empty line of a command's output.
inline std::vector<nlohmann::json> jsonLines(const QString &text)
{
    std::vector<nlohmann::json> rows;
    for (const QString &line : text.split('\n', Qt::SkipEmptyParts))
        rows.push_back(nlohmann::json::parse(line.toStdString()));
    return rows;
}

// A tiny random model (model.random with `params`, e.g. "hidden_size: 16, intermediate_size:
// 32, layers: 1, heads: 2, kv_heads: 1") written by a run into tmp/<name>, with Qwen2's
// tokenizer files (../shared/data/tokenizers/qwen2, vocabulary 151,665) beside its weights: a
// model folder as users bring them. Empty path when that tokenizer folder is absent (skip) or
// the run failed (the error is in `err`).
inline std::filesystem::path qwenLikeModel(const std::filesystem::path &tmp, const std::string &name,
                                           const std::string &params, QString *err = nullptr)
{
    const std::filesystem::path tok = sharedDataDir() / "tokenizers" / "qwen2";
    if (sharedDataDir().empty() || !std::filesystem::exists(tok / "tokenizer_config.json"))
        return {};
    writeFile(tmp / (name + ".yaml"),
              "schema_version: 1\nname: " + name + "\nseed: 3\nnodes:\n"
              "  - {id: rnd, type: model.random, params: {vocab_size: 151665, " + params + "}}\n");
    const CliResult r = runCli({"run", str(tmp / (name + ".yaml")), "--out", str(tmp / (name + "-run"))},
                               tmp / "cache");
    if (r.code != 0) {
        if (err)
            *err = r.err;
        return {};
    }
    const std::filesystem::path model = tmp / name;
    std::filesystem::copy(tmp / (name + "-run") / "nodes" / "rnd", model);
    for (const char *f : {"tokenizer.json", "tokenizer_config.json"})
        std::filesystem::copy_file(tok / f, model / f);
    return model;
}

} // namespace qbtest
