// Learnability experiment for the built-in reasoner: trains a small Llama-style model on generated
// GSM-style problems under a chosen tokenization and reports exact-match accuracy as it trains.
//   bench_reasoner --tokens digits|integers --steps 1500 --batch 64 --hidden 256 --layers 4
// Prints a table (step, minutes, loss, accuracy) and writes --json FILE.
#include "api/runtime.h"
#include "data/answer_extract.h"
#include "data/gsm_generator.h"
#include "model/generation.h"
#include "model/transformer.h"
#include "train/lm_trainer.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>

using namespace qb;

namespace {

struct Vocab
{
    std::map<std::string, int64_t> ids;
    std::vector<std::string> words;
    int64_t id(const std::string &w)
    {
        auto it = ids.find(w);
        if (it != ids.end())
            return it->second;
        ids[w] = int64_t(words.size());
        words.push_back(w);
        return int64_t(words.size()) - 1;
    }
};

std::vector<std::string> split(const std::string &text, bool digits)
{
    static const std::regex rDigits(R"([A-Za-z]+|[0-9]|\n|[^\sA-Za-z0-9])");
    static const std::regex rInts(R"([A-Za-z]+|[0-9]+|\n|[^\sA-Za-z0-9])");
    std::vector<std::string> out;
    const auto &re = digits ? rDigits : rInts;
    for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator(); ++it)
        out.push_back(it->str());
    return out;
}

std::string join(const std::vector<std::string> &toks)
{
    std::string out;
    for (size_t i = 0; i < toks.size(); ++i) {
        const bool digitPair = i > 0 && std::isdigit((unsigned char)toks[i][0])
            && std::isdigit((unsigned char)toks[i - 1].back());
        if (i > 0 && !digitPair && toks[i] != "\n" && toks[i - 1] != "\n")
            out += ' ';
        out += toks[i];
    }
    return out;
}

} // namespace

int main(int argc, char **argv)
{
    qb::preferPassiveOpenMp(argv);
    std::map<std::string, std::string> a{{"tokens", "digits"}, {"steps", "1500"}, {"batch", "64"},
                                         {"hidden", "256"}, {"layers", "4"}, {"heads", "4"},
                                         {"lr", "0.003"}, {"eval-every", "250"}, {"eval-n", "200"},
                                         {"json", ""}, {"bf16", "0"}, {"minutes", "1000"},
                                         {"mask-question", "1"}, {"warmup", "100"}};
    for (int i = 1; i + 1 < argc; i += 2)
        a[std::string(argv[i]).substr(2)] = argv[i + 1];
    std::setvbuf(stdout, nullptr, _IOLBF, 0); // a long run logged to a file shows each line at once
    const bool digits = a["tokens"] == "digits";
    const auto rt = initRuntime();
    std::printf("threads %d, blas %s\n", rt.threads, rt.blasLibrary.c_str());

    data::GsmGeneratorOptions opt;
    auto train = data::generateGsmProblems(opt, data::Split::Train, 30000);
    auto test = data::generateGsmProblems(opt, data::Split::Test, std::stoi(a["eval-n"]));
    Vocab v;
    const int64_t pad = v.id("<pad>"), eos = v.id("<eos>");
    for (int n = 0; n <= (digits ? 9 : 999); ++n)
        v.id(std::to_string(n));
    struct Ex { std::vector<int64_t> ids; int64_t answerStart; };
    auto encode = [&](const std::string &s) {
        std::vector<int64_t> ids;
        for (auto &t : split(s, digits))
            ids.push_back(v.id(t));
        return ids;
    };
    std::vector<Ex> exs;
    for (auto &p : train) {
        auto q = encode("Question: " + p.record.question + "\nAnswer:");
        auto s = encode(p.record.solution);
        Ex e{q, int64_t(q.size())};
        e.ids.insert(e.ids.end(), s.begin(), s.end());
        e.ids.push_back(eos);
        exs.push_back(e);
    }
    for (auto &p : test)
        encode("Question: " + p.record.question + "\nAnswer:");
    std::printf("vocab %zu, train examples %zu, mean length %.1f\n", v.words.size(), exs.size(),
                [&] { double t = 0; for (auto &e : exs) t += e.ids.size(); return t / exs.size(); }());

    ModelConfig c;
    c.vocabSize = int64_t(v.words.size());
    c.hiddenSize = std::stoi(a["hidden"]);
    c.numLayers = std::stoi(a["layers"]);
    c.numHeads = std::stoi(a["heads"]);
    c.numKvHeads = c.numHeads;
    c.headDim = c.hiddenSize / c.numHeads;
    c.intermediateSize = (c.hiddenSize * 8 / 3 + 7) / 8 * 8;
    c.maxPositions = 256;
    c.tieWordEmbeddings = true;
    c.eosTokenIds = {eos};
    Transformer model(c);
    model.initRandom(7);
    std::printf("parameters %.2fM\n", c.parameterCount() / 1e6);

    TrainConfig tc;
    tc.steps = std::stoi(a["steps"]);
    tc.lr = std::stod(a["lr"]);
    tc.warmupSteps = std::stoi(a["warmup"]);
    tc.bf16 = a["bf16"] == "1";
    tc.evalEvery = std::stoi(a["eval-every"]);
    const int64_t batch = std::stoi(a["batch"]);
    const bool maskQ = a["mask-question"] == "1";
    std::mt19937_64 rng(11);
    const auto start = std::chrono::steady_clock::now();
    auto minutes = [&] {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / 60;
    };
    double emaLoss = 0;
    nlohmann::json log = nlohmann::json::array();
    TrainHooks h;
    h.batch = [&](int64_t) {
        std::vector<const Ex *> pick;
        size_t maxLen = 0;
        for (int64_t i = 0; i < batch; ++i) {
            pick.push_back(&exs[rng() % exs.size()]);
            maxLen = std::max(maxLen, pick.back()->ids.size());
        }
        auto ids = at::full({batch, int64_t(maxLen) - 1}, pad, at::kLong);
        auto tg = at::full({batch, int64_t(maxLen) - 1}, -100, at::kLong);
        auto ia = ids.accessor<int64_t, 2>();
        auto ta = tg.accessor<int64_t, 2>();
        for (int64_t b = 0; b < batch; ++b) {
            const auto &e = *pick[b];
            for (size_t t = 0; t + 1 < e.ids.size(); ++t) {
                ia[b][t] = e.ids[t];
                if (!maskQ || int64_t(t) + 1 >= e.answerStart)
                    ta[b][t] = e.ids[t + 1];
            }
        }
        return LmBatch{ids, tg};
    };
    auto evaluate = [&](int64_t step) {
        std::vector<std::vector<int64_t>> prompts;
        for (auto &p : test)
            prompts.push_back(encode("Question: " + p.record.question + "\nAnswer:"));
        DecodingConfig d;
        d.maxNewTokens = digits ? 90 : 60;
        std::vector<std::vector<int64_t>> outs;
        for (size_t i = 0; i < prompts.size(); i += 50) {
            std::vector<std::vector<int64_t>> chunk(prompts.begin() + i,
                                                    prompts.begin() + std::min(prompts.size(), i + 50));
            auto o = generate(model, chunk, d, {eos});
            outs.insert(outs.end(), o.begin(), o.end());
        }
        int correct = 0;
        for (size_t i = 0; i < test.size(); ++i) {
            std::vector<std::string> toks;
            for (auto id : outs[i])
                toks.push_back(v.words[id]);
            const auto ex = data::extractGsmStrict(join(toks));
            correct += ex.parsed && ex.answer == test[i].record.gold;
            if (i == 0)
                std::printf("  sample: %s\n", join(toks).c_str());
        }
        const double acc = double(correct) / test.size();
        std::printf("%6lld %7.2f %8.4f %7.3f\n", (long long)step, minutes(), emaLoss, acc);
        std::fflush(stdout);
        log.push_back({{"step", step}, {"minutes", minutes()}, {"loss", emaLoss}, {"accuracy", acc}});
        if (!a["json"].empty())
            std::ofstream(a["json"]) << log.dump(2);
    };
    h.onStep = [&](int64_t step, double loss, double, double, double tps) {
        emaLoss = step == 0 ? loss : 0.95 * emaLoss + 0.05 * loss;
        if (step % 50 == 0)
            std::printf("  step %lld loss %.4f tok/s %.0f min %.2f\n", (long long)step, emaLoss, tps, minutes());
        if (minutes() > std::stod(a["minutes"]))
            throw std::runtime_error("time limit");
    };
    h.onEval = evaluate;
    std::printf("  step    min     loss     acc\n");
    try {
        trainLm(model, tc, h);
    } catch (const std::exception &e) {
        std::printf("stopped: %s\n", e.what());
    }
    evaluate(tc.steps);
    return 0;
}
