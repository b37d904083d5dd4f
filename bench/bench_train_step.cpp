// Training-step throughput of the built-in reasoner's presets: times forward + backward + AdamW
// on random token batches of a fixed shape, and splits one step into its phases.
//   build/release/bin/bench_train_step [--preset tiny-reasoner] [--batch 64] [--seq 96]
//                                      [--vocab 4342] [--steps 6] [--json FILE]
// Prints a table (phase, ms) and tokens per second; writes --json FILE.
#include "api/runtime.h"
#include "model/transformer.h"
#include "train/adamw.h"
#include "train/lm_trainer.h"
#include "train/reasoner.h"

#include <ATen/Parallel.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

using namespace qb;

namespace {

double now()
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

} // namespace

int main(int argc, char **argv)
{
    qb::preferPassiveOpenMp(argv);
    std::map<std::string, std::string> a{{"preset", "tiny-reasoner"}, {"batch", "64"}, {"seq", "96"},
                                         {"vocab", "4342"}, {"steps", "6"}, {"json", ""}};
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string key = std::string(argv[i]).substr(2);
        if (!a.count(key)) {
            std::fprintf(stderr, "bench_train_step: unknown option %s\n", argv[i]);
            return 2;
        }
        a[key] = argv[i + 1];
    }
    const auto rt = initRuntime();
    const int64_t batch = std::stoll(a["batch"]), seq = std::stoll(a["seq"]);
    const int64_t vocab = std::stoll(a["vocab"]);
    Transformer model(reasonerConfig(a["preset"], vocab));
    model.initRandom(1);
    auto [params, decay] = trainableWithDecay(model);
    for (auto &p : params)
        p.requires_grad_(true);
    AdamW opt(params, decay, AdamWConfig{});
    auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
    const auto ids = at::randint(vocab, {batch, seq}, gen, at::kLong);
    // Targets on the last 40% of positions, like a prompt followed by its answer.
    auto targets = at::full({batch, seq}, -100, at::kLong);
    targets.narrow(1, seq * 6 / 10, seq - seq * 6 / 10).copy_(ids.narrow(1, seq * 6 / 10, seq - seq * 6 / 10));
    std::map<std::string, double> ms;
    const int steps = std::stoi(a["steps"]);
    for (int s = 0; s <= steps; ++s) {
        const bool timed = s > 0; // the first step warms caches and allocators
        double t = now();
        auto lap = [&](const char *phase) {
            const double n = now();
            if (timed)
                ms[phase] += 1000 * (n - t) / steps;
            t = n;
        };
        opt.zeroGrad();
        const auto flat = targets.reshape({-1});
        const auto where = flat.ne(-100).nonzero().squeeze(1);
        const auto h = model.hidden(ids);
        lap("forward body");
        const auto loss = lmLoss(model.head(h.reshape({-1, h.size(-1)}).index_select(0, where)),
                                 flat.index_select(0, where));
        loss.item<double>();
        lap("forward head + loss");
        loss.backward();
        lap("backward");
        opt.clipGradNorm(1.0);
        opt.step(1e-3);
        lap("clip + AdamW");
    }
    double total = 0;
    std::printf("threads %d (at %d), blas %s\n", rt.threads, at::get_num_threads(), rt.blasLibrary.c_str());
    std::printf("%-22s %10s\n", "phase", "ms/step");
    for (const auto &[phase, v] : ms) {
        std::printf("%-22s %10.1f\n", phase.c_str(), v);
        total += v;
    }
    const double tps = batch * seq / (total / 1000);
    std::printf("%-22s %10.1f\n%-22s %10.0f\n", "total", total, "tokens/s", tps);
    if (!a["json"].empty()) {
        nlohmann::json j = {{"preset", a["preset"]}, {"batch", batch}, {"seq", seq}, {"vocab", vocab},
                            {"threads", rt.threads}, {"ms", ms}, {"tokens_per_second", tps}};
        std::ofstream(a["json"]) << j.dump(2) << "\n";
    }
    return 0;
}
