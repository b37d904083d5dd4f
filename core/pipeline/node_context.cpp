#include "api/node_context.h"

#include "api/executor.h"
#include "util/error.h"
#include "util/files.h"

#include <chrono>

namespace qb {

NodeContext::NodeContext(const NodeSpec &spec, std::string nodeId, nlohmann::json params,
                         std::map<std::string, std::vector<Artifact>> inputs,
                         std::filesystem::path outDir, uint64_t seed, int threads, EventSink sink,
                         const CancelToken *cancel, std::filesystem::path resumeDir)
    : m_spec(spec), m_nodeId(std::move(nodeId)), m_params(std::move(params)),
      m_inputs(std::move(inputs)), m_outDir(std::move(outDir)), m_resumeDir(std::move(resumeDir)),
      m_seed(seed), m_threads(threads), m_sink(std::move(sink)), m_cancel(cancel)
{
}

const std::vector<Artifact> &NodeContext::inputs(const std::string &port) const
{
    static const std::vector<Artifact> none;
    auto it = m_inputs.find(port);
    return it == m_inputs.end() ? none : it->second;
}

const Artifact &NodeContext::input(const std::string &port) const
{
    const auto &list = inputs(port);
    if (list.size() != 1)
        throw Error("node '" + m_nodeId + "': input '" + port + "' needs exactly one connection, has "
                    + std::to_string(list.size()));
    return list.front();
}

bool NodeContext::hasInput(const std::string &port) const { return !inputs(port).empty(); }

void NodeContext::setUnitCache(std::filesystem::path dir, bool reuse)
{
    m_unitDir = std::move(dir);
    m_reuseUnits = reuse;
}

std::string NodeContext::unitKey(const nlohmann::json &unit) const
{
    return resultKey(nlohmann::json{{"type", m_spec.type}, {"version", m_spec.version},
                                    {"seed", m_seed}, {"unit", unit}});
}

std::optional<std::string> NodeContext::findUnit(const std::string &key) const
{
    if (m_unitDir.empty() || !m_reuseUnits)
        return std::nullopt;
    const std::filesystem::path file = m_unitDir / key;
    if (!std::filesystem::exists(file))
        return std::nullopt;
    return readTextFile(file);
}

void NodeContext::storeUnit(const std::string &key, const std::vector<std::string_view> &parts) const
{
    if (m_unitDir.empty())
        return;
    std::filesystem::create_directories(m_unitDir);
    writeFileAtomicParts(m_unitDir / key, parts);
}

void NodeContext::send(Event event)
{
    event.node = m_nodeId;
    if (m_sink)
        m_sink(event);
}

void NodeContext::progress(double done, double total, const std::string &message)
{
    Event e;
    e.kind = Event::Kind::Progress;
    e.step = done;
    e.value = total > 0 ? done / total : 0;
    e.total = total;
    e.message = message;
    send(std::move(e));
}

void NodeContext::metric(const std::string &series, double step, double value, nlohmann::json data,
                         MetricX x, std::string unit)
{
    Event e;
    e.kind = Event::Kind::Metric;
    e.name = series;
    e.step = step;
    e.value = value;
    e.data = std::move(data);
    e.x = x;
    e.unit = std::move(unit);
    send(std::move(e));
}

void NodeContext::log(const std::string &message)
{
    Event e;
    e.kind = Event::Kind::Log;
    e.message = message;
    send(std::move(e));
}

WorkHooks NodeContext::hooks()
{
    WorkHooks h;
    h.progress = [this](double done, double total, const std::string &m) { progress(done, total, m); };
    h.log = [this](const std::string &m) { log(m); };
    h.checkCancelled = [this] { checkCancelled(); };
    return h;
}

void NodeContext::addResult(nlohmann::json row) { m_results.push_back(std::move(row)); }

bool NodeContext::isCancelled() const { return m_cancel && m_cancel->isCancelled(); }

void NodeContext::checkCancelled() const
{
    if (isCancelled())
        throw Cancelled();
}

} // namespace qb
