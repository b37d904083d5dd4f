#include "train/reasoner.h"

#include "eval/evaluator.h"
#include "data/gpqa_generator.h"
#include "data/gsm_generator.h"
#include "data/prompts.h"
#include "io/safetensors.h"
#include "model/text_codec.h"
#include "model/transformer.h"
#include "tokenizer/tokenizer.h"
#include "train/lm_trainer.h"
#include "train/number_features.h"
#include "util/error.h"
#include "util/files.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <random>
#include <set>

namespace fs = std::filesystem;
using nlohmann::json;

namespace qb {

ReasonerRecipe ReasonerRecipe::fromJson(const json &p)
{
    ReasonerRecipe r;
    r.preset = p.value("preset", r.preset);
    r.steps = p.value("steps", r.steps);
    r.batchSize = p.value("batch_size", r.batchSize);
    r.lr = p.value("lr", r.lr);
    r.warmup = p.value("warmup", r.warmup);
    r.bf16 = p.value("bf16", r.bf16);
    r.numberFeatures = p.value("number_features", r.numberFeatures);
    r.evalEvery = p.value("eval_every", r.evalEvery);
    r.evalQuestions = p.value("eval_questions", r.evalQuestions);
    r.gsmExamples = p.value("gsm_examples", r.gsmExamples);
    r.gpqaExamples = p.value("gpqa_examples", r.gpqaExamples);
    r.gpqaShare = p.value("gpqa_share", r.gpqaShare);
    r.gpqaFormat = p.value("gpqa_format", r.gpqaFormat);
    r.maxValue = p.value("max_value", r.maxValue);
    r.seed = p.value("train_seed", r.seed);
    return r;
}

json ReasonerRecipe::toJson() const
{
    return {{"preset", preset}, {"steps", steps}, {"batch_size", batchSize}, {"lr", lr},
            {"warmup", warmup}, {"bf16", bf16}, {"number_features", numberFeatures},
            {"eval_every", evalEvery},
            {"eval_questions", evalQuestions}, {"gsm_examples", gsmExamples},
            {"gpqa_examples", gpqaExamples}, {"gpqa_share", gpqaShare},
            {"gpqa_format", gpqaFormat}, {"max_value", maxValue}, {"train_seed", seed}};
}

ModelConfig reasonerConfig(const std::string &preset, int64_t vocabSize)
{
    ModelConfig c;
    c.vocabSize = vocabSize;
    c.tieWordEmbeddings = true;
    c.maxPositions = 512;
    c.ropeTheta = 10000;
    c.rmsNormEps = 1e-5;
    if (preset == "tiny-reasoner") {
        c.hiddenSize = 256;
        c.numLayers = 4;
        c.numHeads = 8;
        c.numKvHeads = 4;
        c.intermediateSize = 640; // a multiple of 128, so group-wise quantization tiles every row
    } else if (preset == "micro") {
        c.hiddenSize = 32;
        c.numLayers = 2;
        c.numHeads = 4;
        c.numKvHeads = 2;
        c.intermediateSize = 96;
    } else {
        throw Error("unknown built-in preset '" + preset + "' (tiny-reasoner, micro)");
    }
    c.headDim = c.hiddenSize / c.numHeads;
    return c;
}

namespace {

struct Example
{
    std::vector<int64_t> ids;
    int64_t targetStart = 0; // loss on ids[targetStart..]
};

std::vector<int64_t> toLong(const std::vector<int32_t> &v) { return {v.begin(), v.end()}; }

struct Corpus
{
    std::vector<std::pair<std::string, std::string>> texts; // prompt, target
    std::vector<data::GsmRecord> gsmTest;
    std::vector<data::GpqaRecord> gpqaTest;
};

Corpus buildCorpus(const ReasonerRecipe &r)
{
    Corpus c;
    data::GsmGeneratorOptions g;
    g.seed = r.seed;
    g.maxValue = static_cast<int>(r.maxValue);
    for (const auto &p : data::generateGsmProblems(g, data::Split::Train, static_cast<int>(r.gsmExamples)))
        c.texts.emplace_back(data::gsm8kPrompt(p.record.question),
                             data::gsmTarget(p.record, data::PromptFormat::Gsm8k));
    data::GpqaGeneratorOptions q;
    q.seed = r.seed;
    const data::PromptFormat gpqaFormat = data::promptFormatFromName(r.gpqaFormat);
    for (const auto &rec : data::generateGpqaRecords(q, data::Split::Train, static_cast<int>(r.gpqaExamples)))
        c.texts.emplace_back(data::gpqaPrompt(rec, gpqaFormat),
                             data::gpqaTarget(rec, gpqaFormat));
    // Held-out questions for the periodic evaluation: the generators' test split.
    c.gsmTest = data::recordsOf(data::generateGsmProblems(g, data::Split::Test,
                                                          static_cast<int>(r.evalQuestions)));
    c.gpqaTest = data::generateGpqaRecords(q, data::Split::Test, static_cast<int>(r.evalQuestions));
    return c;
}

Tokenizer buildTokenizer(const Corpus &corpus, int64_t maxValue)
{
    std::set<std::string> words;
    for (int64_t n = 0; n <= std::max<int64_t>(999, maxValue); ++n)
        words.insert(std::to_string(n));
    for (const auto &[prompt, target] : corpus.texts) {
        for (const auto &w : Tokenizer::splitBuiltinWords(prompt))
            words.insert(w);
        for (const auto &w : Tokenizer::splitBuiltinWords(target))
            words.insert(w);
    }
    for (const std::string &name : data::gpqaGeneratorNames())
        for (const auto &w : Tokenizer::splitBuiltinWords(name))
            words.insert(w);
    words.erase("\n");
    SpecialTokenNames specials;
    specials.pad = "<pad>";
    specials.eos = "<eos>";
    specials.unk = "<unk>";
    return Tokenizer::makeWordLevel({words.begin(), words.end()}, specials);
}

// Held-out greedy accuracy through the evaluation library (same prompts, stops and strict
// scoring as the evaluate node), 64 prompts a batch.
double greedyAccuracy(Transformer &model, const Tokenizer &tok, const Corpus &corpus, bool gsm,
                      data::PromptFormat gpqaFormat, const WorkHooks &work)
{
    eval::PromptOptions prompts;
    prompts.gpqaFormat = gpqaFormat;
    const eval::QuestionSet set = gsm ? eval::gsmQuestions(corpus.gsmTest, prompts)
                                      : eval::gpqaQuestions(corpus.gpqaTest, prompts);
    const auto codec = tokenizerCodec(tok);
    eval::EvalOptions options;
    options.batchSize = 64;
    options.decoding.maxNewTokens = gsm || gpqaFormat == data::PromptFormat::GpqaCot ? 128 : 8;
    WorkHooks cancelOnly;
    cancelOnly.checkCancelled = work.checkCancelled;
    const auto report = eval::evaluate({model, *codec, {*tok.eosId()}}, set, options, cancelOnly);
    return report.summary.accuracy();
}

void saveCheckpoint(const fs::path &dir, Transformer &model, const Tokenizer &tok, AdamW &opt,
                    int64_t step, const std::vector<at::Tensor> &moments,
                    const at::Tensor &featureWeights)
{
    const fs::path tmp = tempSibling(dir / "ckpt");
    fs::create_directories(tmp);
    model.save(tmp);
    tok.save(tmp / "tokenizer.json"); // the checkpoint is a loadable model folder too
    std::vector<io::TensorWrite> writes;
    for (size_t i = 0; i < moments.size(); ++i)
        writes.push_back({"m." + std::to_string(i), io::DType::F32, moments[i].sizes().vec(),
                          moments[i].data_ptr(), size_t(moments[i].numel()) * sizeof(float)});
    if (featureWeights.defined())
        writes.push_back({"number_features", io::DType::F32, featureWeights.sizes().vec(),
                          featureWeights.data_ptr(),
                          size_t(featureWeights.numel()) * sizeof(float)});
    io::writeSafetensors(tmp / "optimizer.safetensors", writes);
    writeFileAtomic(tmp / "state.json", json{{"step", step}, {"adam_steps", opt.steps()}}.dump());
    fs::remove_all(dir / "ckpt");
    fs::rename(tmp, dir / "ckpt");
}

} // namespace

json pretrainReasoner(const ReasonerRecipe &r, const fs::path &outDir, const fs::path &resumeDir,
                      const ReasonerCallbacks &cb)
{
    auto say = [&](const std::string &m) { cb.work.say(m); };
    say("generating " + std::to_string(r.gsmExamples) + " GSM-style and "
        + std::to_string(r.gpqaExamples) + " GPQA-style training examples");
    const Corpus corpus = buildCorpus(r);
    const Tokenizer tok = buildTokenizer(corpus, r.maxValue);
    const int64_t pad = *tok.padId(), eos = *tok.eosId();
    std::vector<Example> examples;
    examples.reserve(corpus.texts.size());
    for (const auto &[prompt, target] : corpus.texts) {
        Example e;
        e.ids = toLong(tok.encode(prompt));
        e.targetStart = static_cast<int64_t>(e.ids.size());
        const auto t = toLong(tok.encode(target));
        e.ids.insert(e.ids.end(), t.begin(), t.end());
        e.ids.push_back(eos);
        examples.push_back(std::move(e));
    }
    ModelConfig cfg = reasonerConfig(r.preset, tok.vocabSize());
    cfg.eosTokenIds = {eos};
    cfg.padTokenId = pad;
    Transformer model(cfg);
    model.initRandom(r.seed);
    say("model: " + std::to_string(cfg.parameterCount()) + " parameters, vocabulary "
        + std::to_string(cfg.vocabSize));

    TrainConfig tc;
    tc.steps = r.steps;
    tc.lr = r.lr;
    tc.warmupSteps = r.warmup;
    tc.bf16 = r.bf16;
    tc.evalEvery = r.evalEvery;
    tc.checkpointEvery = resumeDir.empty() ? 0 : r.checkpointEvery;

    // The learned number-feature vectors S join the optimiser's parameters (no weight decay).
    auto [params, decay] = trainableWithDecay(model);
    const size_t modelParams = params.size();
    at::Tensor featureWeights;
    if (r.numberFeatures) {
        auto gen = at::make_generator<at::CPUGeneratorImpl>(r.seed + 1);
        featureWeights = at::empty({numberFeatureCount(), cfg.hiddenSize}, at::kFloat)
                             .normal_(0.0, 0.02, gen)
                             .requires_grad_(true);
        params.push_back(featureWeights);
        decay.push_back(false);
    }
    std::unique_ptr<AdamW> opt = std::make_unique<AdamW>(params, decay, tc.adam);

    // Resume: weights, Adam moments and the step from the last checkpoint of this same node.
    int64_t startStep = 0;
    if (!resumeDir.empty() && fs::exists(resumeDir / "ckpt" / "state.json")) {
        const json state = json::parse(readTextFile(resumeDir / "ckpt" / "state.json"));
        auto saved = Transformer::load(resumeDir / "ckpt");
        at::NoGradGuard noGrad;
        auto [savedParams, savedDecay] = trainableWithDecay(*saved);
        for (size_t i = 0; i < modelParams; ++i)
            params[i].copy_(savedParams[i]);
        const auto moments = io::Checkpoint::open(resumeDir / "ckpt" / "optimizer.safetensors");
        auto load = [&](const std::string &name, const at::Tensor &like) {
            auto vals = moments.readFloat32(name);
            return at::from_blob(vals.data(), like.sizes(), at::kFloat).clone();
        };
        std::vector<at::Tensor> m, v;
        for (size_t i = 0; i < params.size(); ++i) {
            m.push_back(load("m." + std::to_string(2 * i), params[i]));
            v.push_back(load("m." + std::to_string(2 * i + 1), params[i]));
        }
        if (featureWeights.defined())
            featureWeights.copy_(load("number_features", featureWeights));
        opt->restore(m, v, state["adam_steps"].get<int64_t>());
        startStep = state["step"].get<int64_t>();
        say("resuming from the checkpoint at step " + std::to_string(startStep));
    }
    std::optional<FactoredEmbedding> factored;
    if (featureWeights.defined()) {
        std::vector<std::string> tokens;
        for (int32_t t = 0; t < tok.vocabSize(); ++t)
            tokens.push_back(tok.tokenText(t));
        factored.emplace(model.tensors().at("model.embed_tokens.weight"),
                         numberFeatureMatrix(tokens), featureWeights, startStep == 0);
    }

    std::mt19937_64 rng(r.seed ^ 0x9e3779b97f4a7c15ull);
    json history = {{"loss", json::array()}, {"eval", json::array()}};
    const auto t0 = std::chrono::steady_clock::now();
    TrainHooks h;
    h.work = cb.work;
    if (factored) {
        h.afterBackward = [&] { factored->beforeStep(); };
        h.afterUpdate = [&] { factored->afterStep(); };
    }
    h.batch = [&](int64_t step) {
        // The batch of a step depends only on (seed, step): a resumed run sees the same data.
        rng.seed(r.seed * 1000003ull + static_cast<uint64_t>(step));
        // Each example is drawn independently. Length-sorted batches (less padding) were tried:
        // that run's GSM loss stayed ~3x higher per step (with other changes, so not proven the
        // cause), and a window of the shortest examples is almost all GPQA-style, so its batches
        // stop mixing the tasks.
        const size_t gsmCount = static_cast<size_t>(r.gsmExamples);
        const size_t gpqaCount = examples.size() - gsmCount;
        std::vector<const Example *> pick;
        for (int64_t i = 0; i < r.batchSize; ++i) {
            const bool gpqa = gpqaCount > 0 && (rng() % 1000000) < r.gpqaShare * 1000000;
            pick.push_back(gpqa ? &examples[gsmCount + rng() % gpqaCount] : &examples[rng() % gsmCount]);
        }
        size_t maxLen = 0;
        for (const Example *e : pick)
            maxLen = std::max(maxLen, e->ids.size());
        const int64_t len = static_cast<int64_t>(maxLen) - 1;
        auto ids = at::full({r.batchSize, len}, pad, at::kLong);
        auto tg = at::full({r.batchSize, len}, -100, at::kLong);
        auto ia = ids.accessor<int64_t, 2>();
        auto ta = tg.accessor<int64_t, 2>();
        for (int64_t b = 0; b < r.batchSize; ++b) {
            const auto &e = *pick[b];
            for (size_t t = 0; t + 1 < e.ids.size(); ++t) {
                ia[b][t] = e.ids[t];
                if (static_cast<int64_t>(t) + 1 >= e.targetStart)
                    ta[b][t] = e.ids[t + 1];
            }
        }
        return LmBatch{ids, tg};
    };
    h.onStep = [&](int64_t step, double loss, double lr, double, double tps) {
        history["loss"].push_back({step, loss});
        if (cb.onStep)
            cb.onStep(step, r.steps, loss, lr, tps);
    };
    h.onEval = [&](int64_t step) {
        at::NoGradGuard noGrad;
        for (bool gsm : {true, false}) {
            // A task the batches never draw from is not evaluated.
            if ((gsm && r.gpqaShare >= 1.0 && r.gpqaExamples > 0) || (!gsm && r.gpqaExamples == 0))
                continue;
            const double acc = greedyAccuracy(model, tok, corpus, gsm,
                                              data::promptFormatFromName(r.gpqaFormat), cb.work);
            history["eval"].push_back({{"step", step}, {"task", gsm ? "gsm8k" : "gpqa"}, {"accuracy", acc}});
            if (cb.onEval)
                cb.onEval(step, gsm ? "gsm8k" : "gpqa", acc);
        }
    };
    h.onCheckpoint = [&](int64_t step, AdamW &o) {
        std::vector<at::Tensor> moments;
        for (size_t i = 0; i < o.moments().first.size(); ++i) {
            moments.push_back(o.moments().first[i]);
            moments.push_back(o.moments().second[i]);
        }
        saveCheckpoint(resumeDir, model, tok, o, step, moments, featureWeights);
    };
    const double lastLoss = trainLm(model, tc, h, startStep, opt.get());
    const double minutes =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / 60.0;

    model.save(outDir);
    tok.save(outDir / "tokenizer.json");
    json summary = {{"recipe", r.toJson()}, {"final_loss", lastLoss}, {"minutes", minutes},
                    {"parameters", cfg.parameterCount()}, {"vocab_size", cfg.vocabSize},
                    {"history", history}};
    writeFileAtomic(outDir / "training.json", summary.dump(1) + "\n");
    return summary;
}

} // namespace qb
