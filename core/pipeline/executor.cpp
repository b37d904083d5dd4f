#include "api/executor.h"

#include "api/node_context.h"
#include "quant/kernel_settings.h"
#include "util/error.h"
#include "util/files.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iomanip>
#include <set>
#include <sstream>

namespace fs = std::filesystem;
using nlohmann::json;

namespace qb {

namespace {

// Model output can hold invalid UTF-8 (a byte-level model emits any byte): replace, never throw.
std::string dumpJson(const json &j, int indent = -1)
{
    return j.dump(indent, ' ', false, json::error_handler_t::replace);
}

uint64_t fnv1a(const std::string &text, uint64_t basis)
{
    uint64_t h = basis;
    for (unsigned char c : text) {
        h ^= c;
        h *= 1099511628211ull;
    }
    return h;
}

std::string hex64(uint64_t v)
{
    std::ostringstream ss;
    ss << std::hex << std::setw(16) << std::setfill('0') << v;
    return ss.str();
}

std::string timestamp(const char *format)
{
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    localtime_r(&now, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, format, &tm);
    return buf;
}

uint64_t folderBytes(const fs::path &dir)
{
    uint64_t total = 0;
    for (const auto &e : fs::recursive_directory_iterator(dir))
        if (e.is_regular_file())
            total += e.file_size();
    return total;
}

// Appends events to events.jsonl (flushed per line, so a killed run keeps what happened) and
// forwards them to the caller's sink with the run-relative time filled in.
class EventLog
{
public:
    EventLog(const fs::path &file, EventSink sink)
        : m_out(file, std::ios::app), m_sink(std::move(sink)),
          m_start(std::chrono::steady_clock::now())
    {
        if (!m_out)
            throw Error(file.string() + ": cannot write the event log");
    }

    void operator()(Event e)
    {
        e.time = std::chrono::duration<double>(std::chrono::steady_clock::now() - m_start).count();
        m_out << dumpJson(toJson(e)) << '\n';
        m_out.flush();
        if (m_sink)
            m_sink(e);
    }

    double elapsed() const
    {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - m_start).count();
    }

private:
    std::ofstream m_out;
    EventSink m_sink;
    std::chrono::steady_clock::time_point m_start;
};

Event makeEvent(Event::Kind kind, const std::string &node, const std::string &message = {})
{
    Event e;
    e.kind = kind;
    e.node = node;
    e.message = message;
    return e;
}

// A cache entry's record of the events its node emitted, replayed when the entry is used.
const char kEventsFile[] = "events.jsonl";

// Metric points and log lines are part of what a node produced; progress is transient and the
// node states are the executor's own.
bool isRecorded(Event::Kind kind)
{
    return kind == Event::Kind::Metric || kind == Event::Kind::Log;
}

// One JSON object per line, without node and time: an entry is shared by every node with its key,
// and the replay happens at its own time.
std::string recordedEventsText(const std::vector<Event> &events)
{
    std::string text;
    for (const Event &e : events) {
        json j = toJson(e);
        j.erase("node");
        j.erase("time");
        text += dumpJson(j) + "\n";
    }
    return text;
}

// Throws qb::Error naming file:line on a line that is not an event of a recorded kind.
std::vector<Event> readRecordedEvents(const fs::path &file)
{
    std::istringstream in(readTextFile(file));
    std::vector<Event> events;
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
        if (line.empty())
            continue;
        try {
            Event e = eventFromJson(json::parse(line));
            if (!isRecorded(e.kind))
                throw Error("kind '" + toString(e.kind) + "' is not recorded");
            events.push_back(std::move(e));
        } catch (const std::exception &ex) {
            throw Error(file.string() + ":" + std::to_string(n) + ": " + ex.what());
        }
    }
    return events;
}

} // namespace

std::string contentKey(const json &doc)
{
    const std::string text = dumpJson(doc); // nlohmann orders object keys: a canonical form
    return hex64(fnv1a(text, 14695981039346656037ull)) + hex64(fnv1a(text, 0x84222325cbf29ce4ull));
}

std::string resultKey(json doc) { return resultKey(std::move(doc), resultArithmeticTag()); }

std::string resultKey(json doc, const std::string &arithmetic)
{
    if (!arithmetic.empty())
        doc["arithmetic"] = arithmetic;
    return contentKey(doc);
}

std::string nodeCacheKey(const NodeSpec &spec, const json &resolvedParams, uint64_t seed,
                         const std::vector<std::pair<std::string, std::vector<std::string>>> &inputKeys,
                         const std::string &arithmetic)
{
    return resultKey(json{{"type", spec.type}, {"version", spec.version},
                          {"params", resolvedParams}, {"seed", seed}, {"inputs", inputKeys}},
                     arithmetic);
}

std::map<std::string, std::string> plannedCacheKeys(const Experiment &exp,
                                                    const NodeRegistry &registry)
{
    std::map<std::string, std::string> keys;
    std::set<std::string> bad;
    for (const Diagnostic &d : validateExperiment(exp, registry)) {
        // "nodes[3].params.bits" names node 3; anything else concerns the whole experiment.
        size_t index = 0;
        if (std::sscanf(d.path.c_str(), "nodes[%zu]", &index) != 1 || index >= exp.nodes.size())
            return keys;
        bad.insert(exp.nodes[index].id);
    }
    std::vector<std::string> order;
    try {
        order = executionOrder(exp);
    } catch (const std::exception &) {
        return keys;
    }
    // The arithmetic the run will set, without setting it (a run may hold the switches).
    const std::string arithmetic
        = resultArithmeticTag(exp.arithmetic.int8Activations, exp.arithmetic.bf16Dense);
    for (const auto &id : order) {
        const NodeDecl &decl = *exp.find(id);
        const NodeSpec *spec = registry.find(decl.type);
        if (bad.count(id) || !spec)
            continue;
        std::vector<std::pair<std::string, std::vector<std::string>>> inputKeys;
        bool complete = true;
        for (const auto &[port, srcs] : decl.inputs) {
            std::vector<std::string> ks;
            for (const auto &s : srcs) {
                const auto it = keys.find(s);
                complete = complete && it != keys.end();
                if (it != keys.end())
                    ks.push_back(it->second);
            }
            inputKeys.emplace_back(port, ks);
        }
        if (complete)
            keys[id] = nodeCacheKey(*spec, resolveParams(*spec, decl.params), exp.seed, inputKeys,
                                    arithmetic);
    }
    return keys;
}

RunSummary runExperiment(const Experiment &exp, const NodeRegistry &registry,
                         const RunOptions &options, const EventSink &sink, const CancelToken &cancel)
{
    if (auto diags = validateExperiment(exp, registry); !diags.empty()) {
        std::string msg;
        for (const auto &d : diags)
            msg += (msg.empty() ? "" : "\n") + d.format(exp.source);
        throw Error(msg);
    }
    const std::vector<std::string> order = executionOrder(exp, options.upTo);
    // The experiment's arithmetic for the whole run (its nodes' and units' keys read it).
    const ArithmeticScope arithmetic(exp.arithmetic.int8Activations, exp.arithmetic.bf16Dense);

    RunSummary summary;
    summary.runDir = options.outDir.empty()
        ? fs::path("runs") / ((exp.name.empty() ? std::string("run") : exp.name) + "-"
                              + timestamp("%Y%m%d-%H%M%S"))
        : options.outDir;
    if (fs::exists(summary.runDir))
        throw Error(summary.runDir.string() + ": run folder already exists; choose another --out");
    const fs::path partial = summary.runDir.string() + ".partial";
    fs::remove_all(partial);
    fs::create_directories(partial);
    const fs::path cacheDir = options.cacheDir.empty() ? userCacheDir() / "nodes" : options.cacheDir;
    fs::create_directories(cacheDir);

    // The resolved experiment: every parameter with its default written out.
    Experiment resolved = exp;
    for (auto &n : resolved.nodes)
        n.params = resolveParams(*registry.find(n.type), n.params);
    writeFileAtomic(partial / "experiment.yaml", toYaml(resolved));

    EventLog log(partial / "events.jsonl", sink);
    log(makeEvent(Event::Kind::RunStarted, "", exp.name));

    json nodesDoc = json::object();
    json rows = json::array();
    std::map<std::string, Artifact> outputs;
    summary.status = "ok";

    for (const auto &id : order) {
        const NodeDecl &decl = *resolved.find(id);
        const NodeSpec &spec = *registry.find(decl.type);
        if (cancel.isCancelled()) {
            summary.status = "cancelled";
            break;
        }
        std::map<std::string, std::vector<Artifact>> inputs;
        std::vector<std::pair<std::string, std::vector<std::string>>> inputKeys;
        for (const auto &[port, srcs] : decl.inputs) {
            std::vector<std::string> keys;
            for (const auto &s : srcs) {
                inputs[port].push_back(outputs.at(s));
                keys.push_back(outputs.at(s).key);
            }
            inputKeys.emplace_back(port, keys);
        }
        const std::string key = nodeCacheKey(spec, decl.params, exp.seed, inputKeys,
                                             resultArithmeticTag());
        const fs::path cached = cacheDir / key;
        const auto started = log.elapsed();
        Artifact artifact;
        json nodeResults = json::array();
        bool fromCache = false;
        if (options.useCache && fs::exists(cached / "artifact.json")) {
            try {
                const json doc = json::parse(readTextFile(cached / "artifact.json"));
                artifact.type = doc.at("type").get<std::string>();
                artifact.meta = doc.at("meta");
                nodeResults = doc.value("results", json::array());
                fromCache = true;
            } catch (const std::exception &e) {
                // A damaged cache entry is recomputed, never trusted.
                log(makeEvent(Event::Kind::Log, id, std::string("ignoring damaged cache entry: ")
                                                       + e.what()));
                fs::remove_all(cached);
            }
        }
        if (fromCache) {
            log(makeEvent(Event::Kind::NodeCached, id, key));
            // A missing or damaged record costs the charts, not the artifact: replay nothing and
            // say so rather than recompute (a pre-training or GRPO node takes minutes to hours).
            std::vector<Event> recorded;
            std::string problem;
            if (!fs::exists(cached / kEventsFile)) {
                problem = "the cache entry has no " + std::string(kEventsFile);
            } else {
                try {
                    recorded = readRecordedEvents(cached / kEventsFile);
                } catch (const std::exception &e) {
                    problem = e.what();
                }
            }
            if (!problem.empty())
                log(makeEvent(Event::Kind::Log, id,
                              "metrics and log lines of the cached node are not replayed: "
                                  + problem + "; run without the cache to recompute them"));
            for (Event &e : recorded) {
                e.node = id;
                e.cached = true;
                log(std::move(e));
            }
        } else {
            log(makeEvent(Event::Kind::NodeStarted, id, decl.type));
            const fs::path work = tempSibling(cached);
            const fs::path resume = cacheDir / ".resume" / key; // created by nodes that use it
            fs::create_directories(work);
            std::vector<Event> recorded;
            try {
                NodeContext ctx(spec, id, decl.params, inputs, work, exp.seed, options.threads,
                                [&log, &recorded](const Event &e) {
                                    if (isRecorded(e.kind))
                                        recorded.push_back(e);
                                    log(e);
                                },
                                &cancel, resume);
                ctx.setUnitCache(cacheDir / "units", options.useCache);
                artifact = spec.run(ctx);
                ctx.checkCancelled();
                nodeResults = ctx.results();
                if (artifact.type.empty())
                    artifact.type = spec.outputType;
                json doc{{"type", artifact.type}, {"meta", artifact.meta}, {"results", nodeResults},
                         {"node_type", spec.type}, {"params", decl.params},
                         {"created", timestamp("%Y-%m-%dT%H:%M:%S")}};
                // Both go into the entry with the one rename below.
                writeFileAtomic(work / kEventsFile, recordedEventsText(recorded));
                writeFileAtomic(work / "artifact.json", dumpJson(doc, 2) + "\n");
                fs::remove_all(cached); // a stale entry without artifact.json
                fs::rename(work, cached);
                fs::remove_all(resume);
            } catch (const Cancelled &) {
                fs::remove_all(work);
                log(makeEvent(Event::Kind::NodeCancelled, id));
                summary.status = "cancelled";
                break;
            } catch (const std::exception &e) {
                fs::remove_all(work);
                summary.status = "failed";
                summary.failedNode = id;
                summary.error = "node '" + id + "' (" + decl.type + "): " + e.what();
                log(makeEvent(Event::Kind::NodeFailed, id, e.what()));
                break;
            }
            log(makeEvent(Event::Kind::NodeFinished, id));
        }
        artifact.nodeId = id;
        artifact.key = key;
        artifact.dir = cached;
        outputs[id] = artifact;

        // Small outputs (records, tables, figures) are copied into the run; large ones (checkpoints)
        // are linked to the cache so the run folder stays cheap.
        const fs::path dest = partial / "nodes" / id;
        fs::create_directories(dest.parent_path());
        if (folderBytes(cached) <= (32ull << 20))
            fs::copy(cached, dest, fs::copy_options::recursive);
        else
            fs::create_directory_symlink(fs::absolute(cached), dest);

        for (auto &r : nodeResults) {
            if (r.is_object() && !r.contains("node"))
                r["node"] = id;
            rows.push_back(r);
        }
        nodesDoc[id] = {{"type", decl.type}, {"key", key}, {"cached", fromCache},
                        {"seconds", log.elapsed() - started}, {"cache_dir", cached.string()},
                        {"meta", artifact.meta}};
    }

    summary.results = {{"experiment", exp.name}, {"status", summary.status},
                       {"seed", exp.seed}, {"threads", options.threads},
                       {"finished", timestamp("%Y-%m-%dT%H:%M:%S")}, {"nodes", nodesDoc},
                       {"results", rows}};
    if (!summary.error.empty())
        summary.results["error"] = summary.error;
    log(makeEvent(Event::Kind::RunFinished, "", summary.status));
    writeFileAtomic(partial / "results.json", dumpJson(summary.results, 2) + "\n");
    fs::rename(partial, summary.runDir);
    return summary;
}

} // namespace qb
