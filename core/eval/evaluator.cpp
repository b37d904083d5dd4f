#include "eval/evaluator.h"

#include "data/stats.h"
#include "data/steps.h"
#include "model/generation.h"
#include "util/error.h"

#include <algorithm>
#include <chrono>

using nlohmann::json;

namespace qb::eval {

ModelRef refOf(const ModelBundle &bundle)
{
    return {*bundle.model, *bundle.codec, bundle.endTokens()};
}

std::vector<Completion> complete(const ModelRef &ref, const std::vector<std::string> &prompts,
                                 const DecodingConfig &decoding,
                                 const std::vector<std::string> &stops, int batchSize,
                                 const WorkHooks &hooks, double *seconds,
                                 GenerationStats *stats)
{
    if (batchSize < 1)
        throw Error("batch size must be >= 1, got " + std::to_string(batchSize));
    // Only the tail can hold a new stop string; a token is at least one byte of text (special
    // tokens decode to nothing), so the last (longest stop + 16) tokens always suffice.
    size_t window = 16;
    for (const auto &stop : stops)
        window = std::max(window, stop.size() + 16);
    hooks.poll();
    std::vector<std::vector<int64_t>> ids;
    ids.reserve(prompts.size());
    for (const auto &prompt : prompts)
        ids.push_back(ref.codec.encode(prompt));
    GenerationHooks gen;
    gen.work.checkCancelled = hooks.checkCancelled;
    gen.stats = stats;
    if (!stops.empty())
        gen.shouldStop = [&](size_t, const std::vector<int64_t> &generated) {
            const size_t from = generated.size() > window ? generated.size() - window : 0;
            const std::string tail = ref.codec.decode({generated.begin() + from, generated.end()});
            for (const auto &stop : stops)
                if (tail.find(stop) != std::string::npos)
                    return true;
            return false;
        };
    size_t finished = 0;
    gen.onFinished = [&](size_t) { hooks.report(double(++finished), double(prompts.size())); };
    const auto t0 = std::chrono::steady_clock::now();
    auto generated = generate(ref.model, ids, decoding, ref.endTokens, batchSize, gen);
    if (seconds)
        *seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::vector<Completion> out;
    out.reserve(prompts.size());
    for (auto &g : generated) {
        Completion c;
        c.text = data::applyStopSequences(ref.codec.decode(g), stops);
        c.ids = std::move(g);
        out.push_back(std::move(c));
    }
    return out;
}

data::AnswerCheck scoreCompletion(const QuestionSet &set, size_t i, const std::string &completion)
{
    const EvalQuestion &q = set.questions.at(i);
    return set.task == Task::Gsm8k ? data::checkGsmAnswer(completion, q.gold, set.format)
                                   : data::checkGpqaAnswer(completion, q.gpqa, set.format);
}

json QuestionRecord::toJson() const
{
    json rec{{"id", id},
             {"prompt", prompt},
             {"completion", completions.empty() ? std::string() : completions.front()},
             {"extracted", strict.answer},
             {"parsed", strict.parsed},
             {"flexible", flexible.answer},
             {"gold", gold},
             {"correct", correct},
             {"flexible_correct", flexibleCorrect}};
    if (stepsFraction)
        rec["steps_fraction"] = *stepsFraction;
    if (chainLength)
        rec["chain_length"] = *chainLength;
    if (thinkChars)
        rec["think_chars"] = *thinkChars;
    if (completions.size() > 1)
        rec["samples"] = completions;
    return rec;
}

std::string EvalReport::recordsJsonl() const
{
    std::string lines;
    for (const auto &r : records)
        lines += r.toJson().dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    return lines;
}

EvalRow EvalSummary::row(const QuestionSet &set) const
{
    EvalRow row;
    row.task = taskName(set.task);
    row.format = data::promptFormatName(set.format);
    row.n = n;
    row.accuracy = accuracy();
    const auto ci = data::wilsonInterval(correct, n);
    row.ciLow = ci.lower;
    row.ciHigh = ci.upper;
    row.flexibleAccuracy = n ? double(flexibleCorrect) / n : 0.0;
    row.unparsedRate = n ? double(unparsed) / n : 0.0;
    row.meanGeneratedTokens = n ? double(generatedTokens) / (n * samples) : 0.0;
    row.tokensPerSecond = seconds > 0 ? generatedTokens / seconds : 0.0;
    if (prefillSeconds > 0)
        row.prefillTokensPerSecond = prefillTokens / prefillSeconds;
    row.selfConsistency = samples;
    if (set.task == Task::Gsm8k)
        row.stepAccuracy = n ? stepSum / n : 0.0;
    if (thinking > 0)
        row.meanThinkChars = double(thinkChars) / double(thinking);
    for (const auto &[steps, counts] : byChain) {
        StepBucket b;
        b.steps = steps;
        b.n = counts.first;
        b.correct = counts.second;
        b.accuracy = b.n ? double(b.correct) / b.n : 0.0;
        const auto bucketCi = data::wilsonInterval(b.correct, b.n);
        b.ciLow = bucketCi.lower;
        b.ciHigh = bucketCi.upper;
        row.bySteps.push_back(b);
    }
    return row;
}

SampledAnswers sampleAnswers(const ModelRef &model, const QuestionSet &set,
                             const EvalOptions &options, const WorkHooks &hooks)
{
    if (options.samples < 1)
        throw Error("self_consistency must be >= 1");
    if (options.samples > 1 && options.decoding.strategy != "sample")
        throw Error("self_consistency > 1 needs decoding.strategy: sample (greedy samples agree)");
    const auto stops = data::stopSequences(set.format);
    const size_t n = set.questions.size();
    std::vector<std::string> prompts;
    for (const auto &q : set.questions)
        prompts.push_back(q.prompt);

    SampledAnswers out;
    out.completions.resize(n);
    out.checks.resize(n);
    for (int k = 0; k < options.samples; ++k) {
        DecodingConfig dc = options.decoding;
        dc.seed = options.decoding.seed + static_cast<uint64_t>(k) * 1000003ull;
        double seconds = 0;
        GenerationStats prefill;
        auto done = complete(model, prompts, dc, stops, options.batchSize,
                             hooks.slice(double(k) * n, double(n), double(n) * options.samples),
                             &seconds, &prefill);
        int64_t tokens = 0;
        for (size_t i = 0; i < n; ++i) {
            tokens += static_cast<int64_t>(done[i].ids.size());
            out.checks[i].push_back(scoreCompletion(set, i, done[i].text));
            out.completions[i].push_back(std::move(done[i]));
        }
        out.passSeconds.push_back(seconds);
        out.passTokens.push_back(tokens);
        out.passPrefill.push_back(prefill);
    }
    return out;
}

EvalReport summarize(const QuestionSet &set, const SampledAnswers &sampled, int k)
{
    if (k < 1 || k > sampled.samples())
        throw Error("maj@" + std::to_string(k) + " needs 1.." + std::to_string(sampled.samples())
                    + " samples");
    const size_t n = set.questions.size();
    if (sampled.checks.size() != n || sampled.completions.size() != n)
        throw Error("summarize: " + std::to_string(sampled.checks.size())
                    + " sampled questions for a set of " + std::to_string(n));
    EvalReport report;
    EvalSummary &s = report.summary;
    s.n = static_cast<int64_t>(n);
    s.samples = k;
    for (int j = 0; j < k; ++j) {
        s.seconds += sampled.passSeconds[j];
        s.generatedTokens += sampled.passTokens[j];
        if (size_t(j) < sampled.passPrefill.size()) {
            s.prefillTokens += sampled.passPrefill[j].prefillTokens;
            s.prefillSeconds += sampled.passPrefill[j].prefillSeconds;
        }
    }
    // The majority answer of the first k samples wins (data/stats.h documents the tie rule).
    for (size_t i = 0; i < n; ++i) {
        const EvalQuestion &q = set.questions[i];
        std::vector<data::Extraction> strictVotes, flexVotes;
        for (int j = 0; j < k; ++j) {
            const data::AnswerCheck &c = sampled.checks[i].at(j);
            strictVotes.push_back(c.strict);
            flexVotes.push_back(c.flexible);
            if (c.thinkChars >= 0) {
                ++s.thinking;
                s.thinkChars += c.thinkChars;
            }
        }
        QuestionRecord r;
        r.id = q.id;
        r.prompt = q.prompt;
        for (int j = 0; j < k; ++j)
            r.completions.push_back(sampled.completions[i].at(j).text);
        r.strict = data::majorityVote(strictVotes).winner;
        r.flexible = data::majorityVote(flexVotes).winner;
        r.gold = q.gold;
        if (sampled.checks[i].at(0).thinkChars >= 0)
            r.thinkChars = sampled.checks[i].at(0).thinkChars;
        r.correct = r.strict.parsed && r.strict.answer == q.gold;
        r.flexibleCorrect = r.flexible.parsed && r.flexible.answer == q.gold;
        s.correct += r.correct;
        s.flexibleCorrect += r.flexibleCorrect;
        s.unparsed += !r.strict.parsed;
        if (set.task == Task::Gsm8k) {
            const auto gold = data::stepResults(q.gsm.solution);
            const auto score = data::scoreSteps(r.completions.front(), gold);
            r.stepsFraction = score.fraction();
            s.stepSum += score.fraction();
            r.chainLength = static_cast<int>(gold.size());
            auto &bucket = s.byChain[*r.chainLength];
            bucket.first += 1;
            bucket.second += r.correct;
        }
        report.records.push_back(std::move(r));
    }
    return report;
}

EvalReport evaluate(const ModelRef &model, const QuestionSet &set, const EvalOptions &options,
                    const WorkHooks &hooks)
{
    return summarize(set, sampleAnswers(model, set, options, hooks), options.samples);
}

} // namespace qb::eval
