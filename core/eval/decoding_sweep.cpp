#include "eval/decoding_sweep.h"

#include "util/error.h"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

namespace qb::eval {

namespace {

template <typename T> std::vector<T> uniqueInOrder(const std::vector<T> &values)
{
    std::vector<T> out;
    for (const T &v : values)
        if (std::find(out.begin(), out.end(), v) == out.end())
            out.push_back(v);
    return out;
}

std::string number(double v)
{
    std::ostringstream s;
    s << v;
    return s.str();
}

} // namespace

PromptOptions promptOptionsFor(const std::string &style, const PromptOptions &cot)
{
    PromptOptions p = cot;
    if (style == "cot") {
        if (p.gsmFormat == data::PromptFormat::Gsm8kDirect)
            throw Error("prompt style cot needs a reasoning GSM format (gsm8k or gsm8k_cot), "
                        "not gsm8k_direct");
        p.gpqaFormat = data::PromptFormat::GpqaCot;
        return p;
    }
    if (style == "direct") {
        p.gsmFormat = data::PromptFormat::Gsm8kDirect;
        p.gpqaFormat = data::PromptFormat::GpqaZeroShot;
        p.numFewshot = 0;
        return p;
    }
    throw Error("unknown prompt style '" + style + "' (known: cot, direct)");
}

void SweepOptions::validate() const
{
    if (temperatures.empty())
        throw Error("temperatures: give at least one (0 = greedy)");
    for (double t : temperatures)
        if (!(t >= 0))
            throw Error("temperatures: " + number(t) + " is below 0");
    if (topPs.empty())
        throw Error("top_p: give at least one (1 = no nucleus cut)");
    for (double p : topPs)
        if (!(p > 0 && p <= 1))
            throw Error("top_p: " + number(p) + " is not in (0, 1]");
    if (topKs.empty())
        throw Error("top_k: give at least one (0 = all tokens)");
    for (int64_t k : topKs)
        if (k < 0)
            throw Error("top_k: " + std::to_string(k) + " is below 0");
    if (styles.empty())
        throw Error("prompt_styles: give at least one (cot, direct)");
    for (const auto &s : styles)
        promptOptionsFor(s, {});
    if (samples.empty())
        throw Error("samples: give at least one k (1 = a single sample)");
    for (int k : samples)
        if (k < 1)
            throw Error("samples: " + std::to_string(k) + " is below 1");
    if (batchSize < 1)
        throw Error("batch_size must be >= 1");
}

int SweepOptions::maxSamples() const
{
    return samples.empty() ? 1 : *std::max_element(samples.begin(), samples.end());
}

std::vector<SweepPoint> sweepPoints(const SweepOptions &options)
{
    std::vector<SweepPoint> out;
    const auto temps = uniqueInOrder(options.temperatures);
    for (const auto &style : uniqueInOrder(options.styles)) {
        if (std::find(temps.begin(), temps.end(), 0.0) != temps.end())
            out.push_back({style, 0.0, 1.0, 0});
        for (double t : temps) {
            if (t == 0)
                continue;
            for (double p : uniqueInOrder(options.topPs))
                for (int64_t k : uniqueInOrder(options.topKs))
                    out.push_back({style, t, p, k});
        }
    }
    return out;
}

DecodingConfig decodingFor(const SweepPoint &point, const SweepOptions &options)
{
    DecodingConfig d;
    d.strategy = point.greedy() ? "greedy" : "sample";
    d.temperature = point.greedy() ? 1.0 : point.temperature;
    d.topP = point.topP;
    d.topK = point.topK;
    d.maxNewTokens = options.maxNewTokens;
    d.seed = options.seed;
    return d;
}

std::vector<int> samplesAt(const SweepPoint &point, const SweepOptions &options)
{
    if (point.greedy())
        return {1};
    std::set<int> ks(options.samples.begin(), options.samples.end());
    return {ks.begin(), ks.end()};
}

double sweepWork(const SweepOptions &options, int64_t n)
{
    double work = 0;
    for (const auto &point : sweepPoints(options))
        work += double(n) * samplesAt(point, options).back();
    return work;
}

void sweepModel(const ModelRef &model,
                const std::function<QuestionSet(const std::string &style)> &questions,
                const SweepOptions &options, const WorkHooks &hooks,
                const std::function<void(SweepCell &&)> &onCell)
{
    options.validate();
    std::map<std::string, QuestionSet> sets;
    std::map<std::string, double> greedyAccuracy;
    const auto points = sweepPoints(options);
    int64_t n = 0;
    for (const auto &point : points)
        if (!sets.count(point.style)) {
            sets.emplace(point.style, questions(point.style));
            n = static_cast<int64_t>(sets.at(point.style).questions.size());
        }
    const double total = sweepWork(options, n);
    double done = 0;
    for (const auto &point : points) {
        const QuestionSet &set = sets.at(point.style);
        const std::vector<int> ks = samplesAt(point, options);
        EvalOptions eo;
        eo.decoding = decodingFor(point, options);
        eo.batchSize = options.batchSize;
        eo.samples = ks.back();
        const double work = double(set.questions.size()) * eo.samples;
        const SampledAnswers sampled =
            sampleAnswers(model, set, eo, hooks.slice(done, work, total));
        done += work;
        for (int k : ks) {
            SweepCell cell;
            cell.report = summarize(set, sampled, k);
            cell.row = cell.report.summary.row(set);
            DecodingSetting d;
            d.temperature = point.temperature;
            d.topP = point.topP;
            d.topK = point.topK;
            d.promptStyle = point.style;
            if (point.greedy() && k == 1)
                greedyAccuracy[point.style] = cell.row.accuracy;
            const auto g = greedyAccuracy.find(point.style);
            if (g != greedyAccuracy.end())
                d.greedyAccuracy = g->second;
            cell.row.decoding = d;
            onCell(std::move(cell));
        }
    }
}

} // namespace qb::eval
