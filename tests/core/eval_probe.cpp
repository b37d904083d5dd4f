// Torch side of tst_eval.
#include "eval_probe.h"

#include "api/model_handle.h"
#include "data/gsm_generator.h"
#include "eval/evaluator.h"
#include "model/model_bundle.h"
#include "quant/quant_checkpoint.h"
#include "support/test_support.h"
#include "util/error.h"

namespace evalprobe {

Report evaluateShipped(int n, int batchSize, const std::string &strategy, int samples,
                       double temperature, uint64_t seed)
{
    const auto bundle = qb::loadModelBundle(qbtest::sourceDir() / "resources" / "tiny-reasoner");
    qb::data::GsmGeneratorOptions g;
    const auto problems = qb::data::generateGsmProblems(g, qb::data::Split::Test, n);
    const auto set = qb::eval::gsmQuestions(qb::data::recordsOf(problems), {});
    qb::eval::EvalOptions o;
    o.batchSize = batchSize;
    o.samples = samples;
    o.decoding.strategy = strategy;
    o.decoding.temperature = temperature;
    o.decoding.seed = seed;
    o.decoding.maxNewTokens = 128;
    const auto report = qb::eval::evaluate(qb::eval::refOf(bundle), set, o);
    Report r;
    for (const auto &q : report.records) {
        Record rec;
        rec.id = q.id;
        rec.completion = q.completions.front();
        rec.samples = q.completions;
        rec.extracted = q.strict.answer;
        rec.parsed = q.strict.parsed;
        rec.gold = q.gold;
        rec.correct = q.correct;
        r.records.push_back(rec);
    }
    r.n = report.summary.n;
    r.correct = report.summary.correct;
    r.unparsed = report.summary.unparsed;
    r.accuracy = report.summary.accuracy();
    r.rowJson = report.summary.row(set).toJson().dump();
    return r;
}

void writeRandomModel(const std::string &dir, int64_t vocab, int64_t eos)
{
    const std::string config = R"({"vocab_size": )" + std::to_string(vocab)
        + R"(, "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
        "num_attention_heads": 2, "num_key_value_heads": 1, "eos_token_id": )"
        + std::to_string(eos) + "}";
    qb::ModelHandle::random(config, 7).save(dir);
}

void writeQuantizedCopy(const std::string &from, const std::string &to, const std::string &label)
{
    auto model = qb::loadTransformer(from);
    qb::saveQuantizedModel(*model, to, {{"label", label}});
}

BundleInfo loadBundle(const std::string &dir)
{
    const auto b = qb::loadModelBundle(dir);
    BundleInfo info;
    info.endTokens = b.endTokens();
    info.doSample = b.generation.doSample;
    info.temperature = b.generation.temperature;
    info.topK = b.generation.topK;
    info.format = b.provenance.format;
    info.label = b.provenance.label;
    info.codecName = b.codec->name();
    return info;
}

std::string renderBundleChat(const std::string &dir, const std::string &messagesJson,
                             bool addGenerationPrompt)
{
    const auto b = qb::loadModelBundle(dir);
    return qb::renderChat(b, nlohmann::ordered_json::parse(messagesJson), addGenerationPrompt);
}

std::string encodeError(const std::string &dir)
{
    const auto b = qb::loadModelBundle(dir);
    try {
        b.codec->encode("hello");
    } catch (const qb::Error &e) {
        return e.what();
    }
    return {};
}

} // namespace evalprobe
