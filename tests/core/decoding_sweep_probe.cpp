// Torch side of tst_decoding_sweep.
#include "decoding_sweep_probe.h"

#include "data/gsm_generator.h"
#include "eval/decoding_sweep.h"
#include "model/model_bundle.h"
#include "support/test_support.h"
#include "util/error.h"

#include <sstream>

namespace sweepprobe {

Counts summarizeHand(const std::string &format, const std::vector<std::string> &golds,
                     const std::vector<std::vector<std::string>> &samples, int k)
{
    qb::eval::QuestionSet set;
    set.task = qb::eval::Task::Gsm8k;
    set.format = qb::data::promptFormatFromName(format);
    qb::eval::SampledAnswers sampled;
    for (size_t i = 0; i < golds.size(); ++i) {
        qb::eval::EvalQuestion q;
        q.id = "q" + std::to_string(i);
        q.gold = golds[i];
        q.gsm.gold = golds[i];
        q.gsm.solution = "#### " + golds[i];
        set.questions.push_back(q);
        std::vector<qb::eval::Completion> cs;
        std::vector<qb::data::AnswerCheck> checks;
        for (const auto &text : samples.at(i)) {
            qb::eval::Completion c;
            c.text = text;
            cs.push_back(c);
            checks.push_back(qb::eval::scoreCompletion(set, i, text));
        }
        sampled.completions.push_back(cs);
        sampled.checks.push_back(checks);
    }
    for (size_t j = 0; j < samples.at(0).size(); ++j) {
        sampled.passSeconds.push_back(1.0);
        sampled.passTokens.push_back(0);
    }
    const auto report = qb::eval::summarize(set, sampled, k);
    Counts c;
    c.n = report.summary.n;
    c.correct = report.summary.correct;
    c.flexibleCorrect = report.summary.flexibleCorrect;
    c.unparsed = report.summary.unparsed;
    for (const auto &r : report.records) {
        c.strictAnswers.push_back(r.strict.answer);
        const auto j = r.toJson();
        c.recordThink.push_back(j.contains("think_chars") ? j["think_chars"].get<int64_t>() : -1);
    }
    const auto row = report.summary.row(set).toJson();
    if (row.contains("mean_think_chars"))
        c.meanThinkChars = row["mean_think_chars"].get<double>();
    return c;
}

std::vector<std::string> points(const std::vector<double> &temperatures,
                                const std::vector<double> &topPs,
                                const std::vector<int64_t> &topKs,
                                const std::vector<std::string> &styles,
                                const std::vector<int> &samples)
{
    qb::eval::SweepOptions o;
    o.temperatures = temperatures;
    o.topPs = topPs;
    o.topKs = topKs;
    o.styles = styles;
    o.samples = samples;
    o.validate();
    std::vector<std::string> out;
    for (const auto &p : qb::eval::sweepPoints(o)) {
        std::ostringstream s;
        s << p.style << ' ' << p.temperature << ' ' << p.topP << ' ' << p.topK << ' ';
        const auto ks = qb::eval::samplesAt(p, o);
        for (size_t i = 0; i < ks.size(); ++i)
            s << (i ? "," : "") << ks[i];
        out.push_back(s.str());
    }
    return out;
}

std::vector<Pair> sweepAgainstEvaluate(int n, double temperature, int k, uint64_t seed)
{
    const auto bundle = qb::loadModelBundle(qbtest::sourceDir() / "resources" / "tiny-reasoner");
    const auto ref = qb::eval::refOf(bundle);
    qb::data::GsmGeneratorOptions g;
    const auto records = qb::data::recordsOf(qb::data::generateGsmProblems(g, qb::data::Split::Test, n));
    qb::eval::SweepOptions o;
    o.temperatures = {0.0, temperature};
    o.samples = {1, k};
    o.styles = {"cot"};
    o.maxNewTokens = 128;
    o.batchSize = 8;
    o.seed = seed;
    std::vector<qb::eval::SweepCell> cells;
    qb::eval::sweepModel(
        ref,
        [&](const std::string &style) {
            return qb::eval::gsmQuestions(records, qb::eval::promptOptionsFor(style, {}));
        },
        o, {}, [&](qb::eval::SweepCell &&c) { cells.push_back(std::move(c)); });

    const auto set = qb::eval::gsmQuestions(records, {});
    std::vector<Pair> out;
    for (const auto &cell : cells) {
        qb::eval::EvalOptions eo;
        eo.batchSize = 8;
        eo.samples = static_cast<int>(cell.row.selfConsistency);
        eo.decoding.maxNewTokens = 128;
        eo.decoding.seed = seed;
        if (cell.row.decoding->temperature > 0) {
            eo.decoding.strategy = "sample";
            eo.decoding.temperature = cell.row.decoding->temperature;
        }
        const auto direct = qb::eval::evaluate(ref, set, eo);
        Pair p;
        p.sweepRow = cell.row.toJson().dump();
        p.evaluateRow = direct.summary.row(set).toJson().dump();
        for (const auto &r : cell.report.records)
            p.sweepCompletions.insert(p.sweepCompletions.end(), r.completions.begin(),
                                      r.completions.end());
        for (const auto &r : direct.records)
            p.evaluateCompletions.insert(p.evaluateCompletions.end(), r.completions.begin(),
                                         r.completions.end());
        out.push_back(p);
    }
    return out;
}

} // namespace sweepprobe
