// NodeContext: what a running node sees — its resolved parameters, its input artifacts, a private
// output folder, the run's seed and thread count — and how it reports back (progress, metric
// points, log lines, result rows) and learns that it should stop. Created by the executor for one
// node on the executor's thread; the node must not keep it after returning.
#pragma once
#include "api/events.h"
#include "api/registry.h"
#include "api/work.h"

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qb {

class NodeContext
{
public:
    NodeContext(const NodeSpec &spec, std::string nodeId, nlohmann::json params,
                std::map<std::string, std::vector<Artifact>> inputs, std::filesystem::path outDir,
                uint64_t seed, int threads, EventSink sink, const CancelToken *cancel,
                std::filesystem::path resumeDir = {});

    const std::string &nodeId() const { return m_nodeId; }
    const NodeSpec &spec() const { return m_spec; }
    const nlohmann::json &params() const { return m_params; }
    uint64_t seed() const { return m_seed; }
    int threads() const { return m_threads; }

    // Artifacts connected to a port (empty when an optional port is unconnected).
    const std::vector<Artifact> &inputs(const std::string &port) const;
    // The single artifact of a port; throws qb::Error when there is not exactly one.
    const Artifact &input(const std::string &port) const;
    bool hasInput(const std::string &port) const;

    // Folder for this node's output files; it becomes the artifact's dir once the node succeeds.
    // The names artifact.json and events.jsonl in it are the executor's.
    const std::filesystem::path &outDir() const { return m_outDir; }

    // Folder that survives a cancelled or killed run of this very node (same cache key), for
    // checkpoints to resume from; the executor deletes it once the node succeeds. Not created
    // until the node creates it.
    const std::filesystem::path &resumeDir() const { return m_resumeDir; }

    // Unit cache: work a node repeats for each of several inputs (one evaluation per model x
    // dataset) is cached per unit, so that adding a model to a node costs that model's work only.
    // unitKey() hashes the caller's description of the unit (its inputs' artifact keys and every
    // setting the unit's result depends on) together with the node type, version and run seed.
    // An entry is one file, written atomically: a killed run keeps the units it finished.
    // findUnit() returns nothing when the run does not use the cache (RunOptions::useCache false;
    // storeUnit() still refreshes the entry) or when the context has no unit cache (tests).
    void setUnitCache(std::filesystem::path dir, bool reuse);
    std::string unitKey(const nlohmann::json &unit) const;
    std::optional<std::string> findUnit(const std::string &key) const;
    void storeUnit(const std::string &key, const std::vector<std::string_view> &parts) const;

    void progress(double done, double total, const std::string &message = {});
    // One point of a series; x says what step is (a training step, a layer index, ...) and unit
    // what value is measured in, so that charts give each series its true axes.
    void metric(const std::string &series, double step, double value, nlohmann::json data = {},
                MetricX x = MetricX::Step, std::string unit = {});
    void log(const std::string &message);
    void send(Event event); // fills node and time
    // progress, log and cancellation of this node as WorkHooks, for library code.
    WorkHooks hooks();

    // Rows for results.json (e.g. one per (model, task) evaluation).
    void addResult(nlohmann::json row);
    const nlohmann::json &results() const { return m_results; }

    bool isCancelled() const;
    void checkCancelled() const; // throws qb::Cancelled

private:
    const NodeSpec &m_spec;
    std::string m_nodeId;
    nlohmann::json m_params;
    std::map<std::string, std::vector<Artifact>> m_inputs;
    std::filesystem::path m_outDir;
    std::filesystem::path m_resumeDir;
    std::filesystem::path m_unitDir;
    bool m_reuseUnits = false;
    uint64_t m_seed;
    int m_threads;
    EventSink m_sink;
    const CancelToken *m_cancel;
    nlohmann::json m_results = nlohmann::json::array();
};

} // namespace qb
