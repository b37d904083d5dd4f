// Events: everything a run reports while it works (node states, progress, metric points, log lines).
// The executor calls the EventSink on its own (worker) thread; a GUI sink must hand events over to
// the GUI thread itself. Events are also written, one JSON object per line, to events.jsonl.
// A node served from the cache is followed by the Metric and Log events it emitted when it ran,
// replayed in their order with `cached` set (and "cached": true in JSON); they carry the same
// node, name, step, value, message and data as the originals, and the replay's time.
#pragma once
#include <nlohmann/json.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <string>

namespace qb {

// What a metric point's step is, so that charts put each series on its true x axis: a training
// step, a layer index, a bits/param budget, or nothing (one value per run or per row: the
// accuracy of an evaluation, a mean KL).
enum class MetricX { Step, Layer, Bits, None };
std::string toString(MetricX x);

struct Event
{
    enum class Kind {
        RunStarted,
        NodeStarted,
        Progress,      // step of total, with a message
        Metric,        // one point of a series: name, step, value (loss, reward, accuracy, ...)
        Log,
        NodeCached,    // output found in the cache, node not run
        NodeFinished,
        NodeFailed,    // message holds the error
        NodeCancelled,
        RunFinished,   // message holds the status: ok, failed, cancelled
    };
    Kind kind = Kind::Log;
    std::string node;
    std::string name;
    double step = 0;
    double value = 0;
    double total = 0;
    std::string message;
    nlohmann::json data; // structured payload (per-layer error tables, result rows); may be null
    double time = 0;     // seconds since the run started
    // Metric only: what step means, and the value's unit ("nats", "fraction", "tokens/s"; empty
    // when it has none). Written as "x" and "unit"; events.jsonl of older runs has neither, and
    // reading one infers them from the series name (metricAxisOf).
    MetricX x = MetricX::Step;
    std::string unit;
    bool cached = false; // replayed from the node's cache entry, not computed in this run
};

std::string toString(Event::Kind kind);
bool eventKindFromString(const std::string &text, Event::Kind *kind);
nlohmann::json toJson(const Event &event);
// Throws qb::Error on a malformed line (used to re-draw charts from events.jsonl).
Event eventFromJson(const nlohmann::json &j);

// The x kind and unit of the built-in nodes' series by name ("layer_error" is per layer in
// relative MSE, "accuracy/gsm8k" has no x), for events written before metrics carried them.
// Unknown names: step, no unit.
std::pair<MetricX, std::string> metricAxisOf(const std::string &seriesName);

using EventSink = std::function<void(const Event &)>;

// Cooperative cancellation: the owner calls cancel(); long work polls isCancelled() between steps.
class CancelToken
{
public:
    void cancel() { m_cancelled.store(true); }
    bool isCancelled() const { return m_cancelled.load(); }
    void reset() { m_cancelled.store(false); }

private:
    std::atomic<bool> m_cancelled{false};
};

} // namespace qb
