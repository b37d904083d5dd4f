// Generation speed of the built-in reasoner through the evaluation path (eval::complete: batched,
// left-padded, KV cache, stop strings), greedy on generated GSM-style test questions.
//   bench_generate [--model DIR] [--n 64] [--batches 1,64] [--max-new 160] [--quant METHOD]
//                  [--kv-cache fp32|int8|fp8] [--refill 0|1] [--lora RANK] [--json FILE]
//                  [--dump FILE]
// --model defaults to resources/tiny-reasoner; --quant quantizes every linear first with the
// method's default settings (e.g. int8, nf4, int); --lora adds adapters of that rank to every
// linear (B starts at zero, so the outputs are the base's: the cost of evaluating an adapted
// model, as the recovery study does); --dump writes the generated ids of every
// question (one line each) so two builds can be compared token for token.
// Prints one line per batch size (tokens, seconds, tokens/s, correct answers, seconds spent in
// the prefills) and writes --json FILE.
#include "api/runtime.h"
#include "data/gsm_generator.h"
#include "eval/evaluator.h"
#include "model/model_bundle.h"
#include "quant/quantize_model.h"
#include "train/lora.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

using namespace qb;

int main(int argc, char **argv)
{
    qb::preferPassiveOpenMp(argv);
    std::map<std::string, std::string> a{{"model", QB_BENCH_SOURCE_DIR "/resources/tiny-reasoner"},
                                         {"n", "64"}, {"batches", "1,64"}, {"max-new", "160"},
                                         {"quant", ""}, {"kv-cache", "fp32"}, {"refill", "0"},
                                         {"lora", "0"}, {"json", ""}, {"dump", ""}};
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string key = std::string(argv[i]).substr(2);
        if (!a.count(key)) {
            std::fprintf(stderr, "bench_generate: unknown option %s\n", argv[i]);
            return 2;
        }
        a[key] = argv[i + 1];
    }
    const auto rt = initRuntime();
    std::printf("threads %d, blas %s\n", rt.threads, rt.blasLibrary.c_str());

    ModelBundle bundle = loadModelBundle(a["model"]);
    if (!a["quant"].empty()) {
        QuantSpec spec;
        spec.method = MethodSpec::fromJson({{"method", a["quant"]}}, "--quant");
        quantizeModel(*bundle.model, spec, {});
        std::printf("quantized: %s\n", spec.method.label().c_str());
    }
    if (const int rank = std::stoi(a["lora"]); rank > 0) {
        LoraConfig lora;
        lora.rank = rank;
        lora.alpha = 2.0 * rank;
        std::printf("lora: rank %d on %zu linears\n", rank,
                    applyLora(*bundle.model, lora, 1).size());
    }
    const auto problems = data::generateGsmProblems({}, data::Split::Test, std::stoi(a["n"]));
    const auto set = eval::gsmQuestions(data::recordsOf(problems), {});
    std::vector<std::string> prompts;
    for (const auto &q : set.questions)
        prompts.push_back(q.prompt);
    const auto stops = data::stopSequences(set.format);

    DecodingConfig d;
    d.maxNewTokens = std::stoi(a["max-new"]);
    d.kvCache = kvCacheFormatFromName(a["kv-cache"]);
    d.refill = a["refill"] == "1";
    nlohmann::json out = nlohmann::json::array();
    std::stringstream batches(a["batches"]);
    std::string item;
    std::printf("%6s %8s %8s %10s %8s %10s\n", "batch", "tokens", "seconds", "tokens/s", "correct",
                "prefill s");
    std::vector<eval::Completion> last;
    while (std::getline(batches, item, ',')) {
        const int batch = std::stoi(item);
        double seconds = 0;
        GenerationStats stats;
        last = eval::complete(eval::refOf(bundle), prompts, d, stops, batch, {}, &seconds, &stats);
        int64_t tokens = 0, correct = 0;
        for (size_t i = 0; i < last.size(); ++i) {
            tokens += static_cast<int64_t>(last[i].ids.size());
            correct += eval::scoreCompletion(set, i, last[i].text).strictCorrect;
        }
        std::printf("%6d %8lld %8.3f %10.0f %8lld %10.3f\n", batch, (long long)tokens, seconds,
                    tokens / seconds, (long long)correct, stats.prefillSeconds);
        out.push_back({{"batch", batch}, {"tokens", tokens}, {"seconds", seconds},
                       {"tokens_per_second", tokens / seconds}, {"correct", correct},
                       {"prefill_seconds", stats.prefillSeconds},
                       {"prefill_tokens", stats.prefillTokens},
                       {"n", last.size()}, {"quant", a["quant"]}, {"kv_cache", a["kv-cache"]},
                       {"refill", d.refill}, {"lora", std::stoi(a["lora"])},
                       {"threads", rt.threads}});
    }
    if (!a["json"].empty())
        std::ofstream(a["json"]) << out.dump(2) << "\n";
    if (!a["dump"].empty()) {
        std::ofstream dump(a["dump"]);
        for (const auto &c : last) {
            for (size_t i = 0; i < c.ids.size(); ++i)
                dump << (i ? " " : "") << c.ids[i];
            dump << "\n";
        }
    }
    return 0;
}
