// Runs the built quantbench-cli the way a user does, for the cli tests: arguments, an isolated node
// cache ($QB_CACHE_DIR), optional working folder and standard input. Qt (QProcess), header-only,
// so the std-only test_support stays usable from torch-side probes.
#pragma once
#include "support/test_support.h"

#include <QProcess>
#include <QStringList>

#include <nlohmann/json.hpp>

#include <filesystem>
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
};

inline CliResult runCli(const QStringList &args, const std::filesystem::path &cache,
                        const CliOptions &options = {})
{
    QProcess p;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert("QB_CACHE_DIR", QString::fromStdString(cache.string()));
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

} // namespace qbtest
