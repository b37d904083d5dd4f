// Runs an experiment: nodes in dependency order, each node's output cached by a content hash of
// its type, version, resolved parameters, the experiment seed and its inputs' hashes, so that a
// re-run or an interrupted run resumes instead of recomputing. A cache entry is the node's output
// folder plus artifact.json (type, meta, result rows) and events.jsonl (the Metric and Log events
// the node emitted, in order), moved into place by one rename; a node served from the cache
// replays those events into the run (Event::cached set). A missing or damaged events.jsonl leaves
// the entry valid: nothing is replayed and a log line says why. Writes the run folder atomically:
// everything goes to "<out>.partial" (events.jsonl line by line as it happens) and is renamed to
// <out> when the run ends, whatever the outcome; results.json records the status.
// Below a node's key, a node may cache units of its work (one evaluation per model x dataset)
// under <cache>/units through NodeContext::findUnit/storeUnit, so that a changed node recomputes
// only the units whose inputs or settings changed.
// runExperiment() works on the calling thread and calls the sink there; cancel through the token
// from any thread (cooperative: the running node stops at its next step).
#pragma once
#include "api/events.h"
#include "api/experiment.h"

#include <filesystem>
#include <map>
#include <string>

namespace qb {

struct RunOptions
{
    std::filesystem::path outDir;   // empty: runs/<name>-<YYYYmmdd-HHMMSS> under the current folder
    std::filesystem::path cacheDir; // empty: <user cache>/nodes
    bool useCache = true;           // false: recompute every node (and refresh the cache)
    std::string upTo;               // run only this node and what it needs
    int threads = 1;                // recorded in results.json; nodes may use it
};

struct RunSummary
{
    std::string status; // "ok", "failed", "cancelled"
    std::string error;  // for failed: the message, naming the node
    std::string failedNode;
    std::filesystem::path runDir;
    nlohmann::json results; // the content of results.json
};

RunSummary runExperiment(const Experiment &experiment, const NodeRegistry &registry,
                         const RunOptions &options, const EventSink &sink,
                         const CancelToken &cancel);

// The cache key every node would get if it ran now (node id -> key), without running anything.
// Nodes with a validation problem, and those that read them, get none (so does every node when
// the problem is not one node's, or the graph has a cycle). The GUI compares these with the keys
// of the last run to mark edited nodes and everything downstream as stale.
std::map<std::string, std::string> plannedCacheKeys(const Experiment &experiment,
                                                    const NodeRegistry &registry);

// A 128-bit hash (32 hex digits) of a JSON document's canonical text: the form of every cache key.
std::string contentKey(const nlohmann::json &doc);

// The key of computed results (nodes, evaluation units): contentKey of doc with, when the process
// computes with a non-default arithmetic (quant/kernel_settings.h), that arithmetic added, so
// results of one arithmetic are never served for the other.
std::string resultKey(nlohmann::json doc);
// The same with the arithmetic tag given (resultArithmeticTag's form).
std::string resultKey(nlohmann::json doc, const std::string &arithmetic);

// The cache key a node would get, given its inputs' keys and the arithmetic tag it computes
// with (exposed for tests and the GUI).
std::string nodeCacheKey(const NodeSpec &spec, const nlohmann::json &resolvedParams, uint64_t seed,
                         const std::vector<std::pair<std::string, std::vector<std::string>>> &inputKeys,
                         const std::string &arithmetic);

} // namespace qb
