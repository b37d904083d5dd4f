#include "api/events.h"

#include "util/error.h"

#include <array>
#include <limits>
#include <tuple>
#include <utility>

namespace qb {

namespace {

const std::array<std::pair<Event::Kind, const char *>, 10> kKindNames = {{
    {Event::Kind::RunStarted, "run_started"},
    {Event::Kind::NodeStarted, "node_started"},
    {Event::Kind::Progress, "progress"},
    {Event::Kind::Metric, "metric"},
    {Event::Kind::Log, "log"},
    {Event::Kind::NodeCached, "node_cached"},
    {Event::Kind::NodeFinished, "node_finished"},
    {Event::Kind::NodeFailed, "node_failed"},
    {Event::Kind::NodeCancelled, "node_cancelled"},
    {Event::Kind::RunFinished, "run_finished"},
}};

const std::array<std::pair<MetricX, const char *>, 4> kXNames = {{
    {MetricX::Step, "step"},
    {MetricX::Layer, "layer"},
    {MetricX::Bits, "bits"},
    {MetricX::None, "none"},
}};

bool startsWith(const std::string &s, const char *prefix)
{
    return s.rfind(prefix, 0) == 0;
}

} // namespace

std::string toString(MetricX x)
{
    for (const auto &[k, name] : kXNames)
        if (k == x)
            return name;
    return "step";
}

std::pair<MetricX, std::string> metricAxisOf(const std::string &name)
{
    if (name == "loss")
        return {MetricX::Step, "nats"};
    if (name == "lr")
        return {MetricX::Step, "learning rate"};
    if (name == "grad_norm")
        return {MetricX::Step, "norm"};
    if (startsWith(name, "eval_accuracy/"))
        return {MetricX::Step, "fraction"};
    if (startsWith(name, "accuracy/"))
        return {MetricX::None, "fraction"};
    if (name == "layer_error")
        return {MetricX::Layer, "relative MSE"};
    if (name == "hidden_rel_error" || name == "quant.weight_rel_error"
        || name == "merge_rel_error")
        return {MetricX::Layer, "relative error"};
    if (name == "hidden_cosine")
        return {MetricX::Layer, "cosine"};
    if (name == "sensitivity.kl")
        return {MetricX::Layer, "nats"};
    if (name == "sensitivity.curve" || name == "sensitivity.allocation")
        return {MetricX::Bits, "nats"};
    if (name == "kl_mean")
        return {MetricX::None, "nats"};
    if (name == "weight_histogram")
        return {MetricX::None, "levels"};
    if (name == "tokens_per_second")
        return {MetricX::None, "tokens/s"};
    return {MetricX::Step, ""};
}

std::string toString(Event::Kind kind)
{
    for (const auto &[k, name] : kKindNames)
        if (k == kind)
            return name;
    return "unknown";
}

bool eventKindFromString(const std::string &text, Event::Kind *kind)
{
    for (const auto &[k, name] : kKindNames) {
        if (text == name) {
            *kind = k;
            return true;
        }
    }
    return false;
}

nlohmann::json toJson(const Event &e)
{
    nlohmann::json j{{"kind", toString(e.kind)}, {"time", e.time}};
    if (!e.node.empty())
        j["node"] = e.node;
    if (!e.name.empty())
        j["name"] = e.name;
    if (e.kind == Event::Kind::Metric || e.kind == Event::Kind::Progress) {
        j["step"] = e.step;
        j["value"] = e.value;
    }
    if (e.kind == Event::Kind::Metric) {
        j["x"] = toString(e.x);
        if (!e.unit.empty())
            j["unit"] = e.unit;
    }
    if (e.kind == Event::Kind::Progress)
        j["total"] = e.total;
    if (!e.message.empty())
        j["message"] = e.message;
    if (!e.data.is_null())
        j["data"] = e.data;
    if (e.cached)
        j["cached"] = true;
    return j;
}

namespace {

// toJson writes a NaN or infinite number as null (JSON has no NaN); it reads back as NaN.
double numberOrNan(const nlohmann::json &j, const char *key)
{
    const auto it = j.find(key);
    if (it == j.end())
        return 0.0;
    if (it->is_null())
        return std::numeric_limits<double>::quiet_NaN();
    return it->get<double>();
}

} // namespace

Event eventFromJson(const nlohmann::json &j)
{
    if (!j.is_object() || !j.contains("kind") || !j["kind"].is_string())
        throw Error("event has no 'kind' string");
    Event e;
    if (!eventKindFromString(j["kind"].get<std::string>(), &e.kind))
        throw Error("unknown event kind '" + j["kind"].get<std::string>() + "'");
    try {
        e.node = j.value("node", "");
        e.name = j.value("name", "");
        e.step = numberOrNan(j, "step");
        e.value = numberOrNan(j, "value");
        e.total = numberOrNan(j, "total");
        e.message = j.value("message", "");
        e.time = j.value("time", 0.0);
        e.cached = j.value("cached", false);
        if (j.contains("data"))
            e.data = j["data"];
        if (e.kind == Event::Kind::Metric) {
            if (j.contains("x")) {
                const std::string x = j["x"].get<std::string>();
                bool known = false;
                for (const auto &[k, name] : kXNames)
                    if (x == name) {
                        e.x = k;
                        known = true;
                    }
                if (!known)
                    throw Error("unknown metric x '" + x + "' (step, layer, bits or none)");
                e.unit = j.value("unit", "");
            } else {
                std::tie(e.x, e.unit) = metricAxisOf(e.name);
            }
        }
    } catch (const nlohmann::json::exception &ex) {
        throw Error(std::string("event field has the wrong type: ") + ex.what());
    }
    return e;
}

} // namespace qb
