#include "model/generation.h"

#include "util/error.h"

#include <ATen/CPUGeneratorImpl.h>

#include <limits>

namespace qb {

at::Tensor selectNextTokens(const at::Tensor &logits, const DecodingConfig &config,
                            at::Generator &generator)
{
    if (config.strategy == "greedy" || config.temperature <= 0.0)
        return logits.argmax(-1);
    if (config.strategy != "sample")
        throw Error("decoding strategy '" + config.strategy + "' is not one of greedy, sample");
    auto scaled = logits / config.temperature;
    const float neg = -std::numeric_limits<float>::infinity();
    const int64_t vocab = scaled.size(-1);
    if (config.topK > 0 && config.topK < vocab) {
        auto kth = std::get<0>(scaled.topk(config.topK, -1)).narrow(-1, config.topK - 1, 1);
        scaled = scaled.masked_fill(scaled < kth, neg);
    }
    if (config.topP < 1.0) {
        auto sorted = scaled.sort(-1, /*descending=*/true);
        auto sortedLogits = std::get<0>(sorted);
        auto sortedIdx = std::get<1>(sorted);
        auto cum = at::softmax(sortedLogits, -1).cumsum(-1);
        // Drop a token when the mass before it already reaches top_p; the first token always stays.
        auto drop = (cum - at::softmax(sortedLogits, -1)) >= config.topP;
        sortedLogits = sortedLogits.masked_fill(drop, neg);
        scaled = at::full_like(scaled, neg).scatter(-1, sortedIdx, sortedLogits);
    }
    auto probs = at::softmax(scaled, -1);
    return at::multinomial(probs, 1, /*replacement=*/false, generator).squeeze(-1);
}

std::vector<std::vector<int64_t>> generate(Transformer &model,
                                           const std::vector<std::vector<int64_t>> &prompts,
                                           const DecodingConfig &config,
                                           const std::vector<int64_t> &endTokens,
                                           const GenerationHooks &hooks)
{
    at::NoGradGuard noGrad;
    const int64_t batch = static_cast<int64_t>(prompts.size());
    std::vector<std::vector<int64_t>> out(prompts.size());
    if (batch == 0 || config.maxNewTokens <= 0)
        return out;
    int64_t maxLen = 0;
    for (const auto &p : prompts) {
        if (p.empty())
            throw Error("generate: empty prompt");
        maxLen = std::max<int64_t>(maxLen, static_cast<int64_t>(p.size()));
    }
    if (maxLen + config.maxNewTokens > model.config().maxPositions)
        throw Error("generate: prompt (" + std::to_string(maxLen) + " tokens) + max_new_tokens ("
                    + std::to_string(config.maxNewTokens) + ") exceeds the model's "
                    + std::to_string(model.config().maxPositions) + " positions");
    const int64_t pad = endTokens.empty() ? 0 : endTokens.front();
    auto ids = at::full({batch, maxLen}, pad, at::kLong);
    auto mask = at::zeros({batch, maxLen}, at::kLong);
    for (int64_t r = 0; r < batch; ++r) {
        const auto &p = prompts[r];
        const int64_t offset = maxLen - static_cast<int64_t>(p.size());
        ids[r].narrow(0, offset, p.size()).copy_(at::tensor(p, at::kLong));
        mask[r].narrow(0, offset, p.size()).fill_(1);
    }
    auto positions = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 1);

    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(config.seed);
    std::vector<bool> done(batch, false);
    int64_t remaining = batch;
    KVCache cache;
    at::Tensor fullIds = ids; // used when the cache is off
    at::Tensor stepIds = ids, stepPositions = positions;
    for (int64_t step = 0; step < config.maxNewTokens && remaining > 0; ++step) {
        hooks.work.poll();
        hooks.work.report(double(step), double(config.maxNewTokens), "decoding");
        at::Tensor logits;
        if (config.useCache) {
            ForwardOptions opt;
            opt.cache = &cache;
            opt.attentionMask = mask;
            opt.positions = stepPositions;
            logits = model.forward(stepIds, opt).select(1, -1);
        } else {
            ForwardOptions opt;
            opt.attentionMask = mask;
            opt.positions = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 1);
            logits = model.forward(fullIds, opt).select(1, -1);
        }
        auto next = selectNextTokens(logits.to(at::kFloat), config, gen);
        auto nextAcc = next.accessor<int64_t, 1>();
        for (int64_t r = 0; r < batch; ++r) {
            if (done[r])
                continue;
            const int64_t tok = nextAcc[r];
            if (std::find(endTokens.begin(), endTokens.end(), tok) != endTokens.end()) {
                done[r] = true;
                --remaining;
                continue;
            }
            out[r].push_back(tok);
            if (hooks.shouldStop && hooks.shouldStop(static_cast<size_t>(r), out[r])) {
                done[r] = true;
                --remaining;
            }
        }
        // Finished rows keep decoding a pad token so the batch stays rectangular; it is never read.
        for (int64_t r = 0; r < batch; ++r)
            if (done[r])
                next[r] = pad;
        auto col = next.unsqueeze(1);
        mask = at::cat({mask, at::ones({batch, 1}, at::kLong)}, 1);
        stepPositions = stepPositions.select(1, -1).unsqueeze(1) + 1;
        stepIds = col;
        if (!config.useCache)
            fullIds = at::cat({fullIds, col}, 1);
    }
    return out;
}

} // namespace qb
