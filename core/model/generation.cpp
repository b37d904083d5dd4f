#include "model/generation.h"

#include "kernels/argmax.h"
#include "util/error.h"
#include "util/parallel.h"

#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <chrono>
#include <limits>

namespace qb {

at::Tensor selectNextTokens(const at::Tensor &logits, const DecodingConfig &config,
                            at::Generator &generator)
{
    if (config.strategy == "greedy" || config.temperature <= 0.0) {
        if (logits.dim() != 2 || !logits.device().is_cpu() || logits.scalar_type() != at::kFloat
            || logits.size(1) == 0)
            return logits.argmax(-1);
        const at::Tensor l = logits.contiguous();
        at::Tensor next = at::empty({l.size(0)}, at::kLong);
        kernels::argmax_rows(l.data_ptr<float>(), l.size(0), l.size(1), l.size(1),
                             next.data_ptr<int64_t>());
        return next;
    }
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

namespace {

bool isEnd(const std::vector<int64_t> &endTokens, int64_t tok)
{
    return std::find(endTokens.begin(), endTokens.end(), tok) != endTokens.end();
}

// Left-pads the prompts `which` into ids [n, len] and mask [n, len] (1 = prompt token); positions
// count the prompt tokens from 0 (pads get 1, never read).
struct PaddedBatch
{
    at::Tensor ids, mask, positions;
    int64_t length = 0;
};

PaddedBatch leftPad(const std::vector<std::vector<int64_t>> &prompts,
                    const std::vector<size_t> &which, int64_t pad)
{
    PaddedBatch p;
    const size_t n = which.size();
    for (size_t i : which)
        p.length = std::max<int64_t>(p.length, static_cast<int64_t>(prompts[i].size()));
    p.ids = at::full({int64_t(n), p.length}, pad, at::kLong);
    p.mask = at::zeros({int64_t(n), p.length}, at::kLong);
    auto ids = p.ids.accessor<int64_t, 2>();
    auto mask = p.mask.accessor<int64_t, 2>();
    for (size_t r = 0; r < n; ++r) {
        const auto &prompt = prompts[which[r]];
        const int64_t offset = p.length - static_cast<int64_t>(prompt.size());
        for (size_t j = 0; j < prompt.size(); ++j) {
            ids[r][offset + j] = prompt[j];
            mask[r][offset + j] = 1;
        }
    }
    p.positions = (p.mask.cumsum(-1) - 1).masked_fill(p.mask == 0, 1);
    return p;
}

// The reference path (DecodingConfig::useCache false): every step recomputes the whole prefix of
// one left-padded batch.
void generateWithoutCache(Transformer &model, const std::vector<std::vector<int64_t>> &prompts,
                          size_t first, size_t n, const DecodingConfig &config,
                          const std::vector<int64_t> &endTokens, const GenerationHooks &hooks,
                          at::Generator &gen, std::vector<std::vector<int64_t>> &out)
{
    const int64_t pad = endTokens.empty() ? 0 : endTokens.front();
    std::vector<size_t> which(n);
    for (size_t r = 0; r < n; ++r)
        which[r] = first + r;
    PaddedBatch p = leftPad(prompts, which, pad);
    at::Tensor ids = p.ids, mask = p.mask;
    std::vector<bool> done(n, false);
    size_t remaining = n;
    for (int64_t step = 0; step < config.maxNewTokens && remaining > 0; ++step) {
        hooks.work.poll();
        ForwardOptions opt;
        opt.attentionMask = mask;
        opt.positions = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 1);
        opt.lastPositionOnly = true;
        auto logits = model.head(model.hidden(ids, opt).select(1, -1));
        auto next = selectNextTokens(logits.to(at::kFloat), config, gen);
        auto acc = next.accessor<int64_t, 1>();
        for (size_t r = 0; r < n; ++r) {
            if (done[r]) {
                acc[r] = pad;
                continue;
            }
            const size_t row = first + r;
            if (isEnd(endTokens, acc[r])) {
                done[r] = true;
            } else {
                out[row].push_back(acc[r]);
                done[r] = hooks.shouldStop && hooks.shouldStop(row, out[row]);
            }
            if (done[r]) {
                --remaining;
                acc[r] = pad;
                if (hooks.onFinished)
                    hooks.onFinished(row);
            }
        }
        ids = at::cat({ids, next.unsqueeze(1)}, 1);
        mask = at::cat({mask, at::ones({int64_t(n), 1}, at::kLong)}, 1);
    }
    if (hooks.onFinished)
        for (size_t r = 0; r < n; ++r)
            if (!done[r])
                hooks.onFinished(first + r);
}

} // namespace

std::vector<std::vector<int64_t>> generate(Transformer &model,
                                           const std::vector<std::vector<int64_t>> &prompts,
                                           const DecodingConfig &config,
                                           const std::vector<int64_t> &endTokens,
                                           const GenerationHooks &hooks)
{
    return generate(model, prompts, config, endTokens,
                    std::max<int64_t>(1, static_cast<int64_t>(prompts.size())), hooks);
}

std::vector<std::vector<int64_t>> generate(Transformer &model,
                                           const std::vector<std::vector<int64_t>> &prompts,
                                           const DecodingConfig &config,
                                           const std::vector<int64_t> &endTokens, int64_t maxRows,
                                           const GenerationHooks &hooks)
{
    // Inference mode: no autograd bookkeeping (version counters, views) on any op below.
    c10::InferenceMode inference;
    // A decoding step of few rows runs mostly serial small products between its parallel
    // kernels: keep the pool's worker awake across them, which also lets smaller products split
    // over both cores (splitGrain). bench_generate --batches 1, built-in reasoner, 2 threads:
    // ~10% more tokens/s from the spin, ~15% more from the grain (docs/generation.md).
    ScopedPoolSpin awake;
    const size_t total = prompts.size();
    std::vector<std::vector<int64_t>> out(total);
    if (total == 0 || config.maxNewTokens <= 0)
        return out;
    if (maxRows < 1)
        throw Error("generate: batch size must be >= 1, got " + std::to_string(maxRows));
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
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(config.seed);
    const int64_t pad = endTokens.empty() ? 0 : endTokens.front();
    size_t finished = 0;
    GenerationHooks counted = hooks;
    counted.onFinished = [&](size_t row) {
        ++finished;
        if (hooks.onFinished)
            hooks.onFinished(row);
    };

    if (!config.useCache) {
        for (size_t first = 0; first < total; first += size_t(maxRows)) {
            const size_t n = std::min(total - first, size_t(maxRows));
            generateWithoutCache(model, prompts, first, n, config, endTokens, counted, gen, out);
        }
        return out;
    }

    // The running batch: per row its prompt, next position, last token, tokens drawn, state.
    struct Row
    {
        size_t prompt;
        int64_t position;
        int64_t last;
        int64_t drawn = 0;
        bool done = false;
    };
    // Prompts join longest first, so that those prefilled together have similar lengths (less
    // padding); every row is decoded independently of its neighbours.
    std::vector<size_t> order(total);
    for (size_t i = 0; i < total; ++i)
        order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return prompts[a].size() > prompts[b].size(); });
    std::vector<Row> rows;
    KVCache cache;
    cache.allocate(model.config(), 0, maxLen + config.maxNewTokens, config.kvCache);
    at::Tensor mask = at::zeros({0, cache.capacity()}, at::kBool); // [rows, columns] valid keys
    size_t waiting = 0; // prompts admitted so far (in `order`)

    // Takes the token drawn for rows[i]: an end token, max_new_tokens or a stop ends the row.
    auto take = [&](Row &row, int64_t tok) {
        ++row.drawn;
        if (isEnd(endTokens, tok)) {
            row.done = true;
        } else {
            out[row.prompt].push_back(tok);
            row.done = row.drawn >= config.maxNewTokens
                || (hooks.shouldStop && hooks.shouldStop(row.prompt, out[row.prompt]));
        }
        row.last = row.done ? pad : tok;
        if (row.done)
            counted.onFinished(row.prompt);
    };

    while (waiting < total || !rows.empty()) {
        hooks.work.poll();
        hooks.work.report(double(finished), double(total), "decoding");
        // Finished rows leave once they are a quarter of the batch (each removal copies the
        // cache); waiting prompts then join, or only when the batch is empty without refill.
        size_t doneRows = 0;
        for (const Row &r : rows)
            doneRows += r.done;
        const bool compact = doneRows > 0 && doneRows * 4 >= rows.size();
        if (compact) {
            std::vector<int64_t> keep;
            std::vector<Row> kept;
            for (size_t i = 0; i < rows.size(); ++i)
                if (!rows[i].done) {
                    keep.push_back(int64_t(i));
                    kept.push_back(rows[i]);
                }
            cache.keepRows(keep);
            mask = mask.index_select(0, at::tensor(keep, at::kLong));
            rows = std::move(kept);
        }
        if (waiting < total && (rows.empty() || (config.refill && compact))) {
            const size_t n = std::min(total - waiting, size_t(maxRows) - rows.size());
            const std::vector<size_t> which(order.begin() + waiting, order.begin() + waiting + n);
            const auto started = std::chrono::steady_clock::now();
            const PaddedBatch p = leftPad(prompts, which, pad);
            KVCache fresh;
            fresh.allocate(model.config(), int64_t(n), p.length, config.kvCache);
            ForwardOptions opt;
            opt.cache = &fresh;
            opt.attentionMask = p.mask;
            opt.positions = p.positions;
            opt.lastPositionOnly = true;
            const at::Tensor logits = model.head(model.hidden(p.ids, opt).select(1, -1));
            const at::Tensor next = selectNextTokens(logits.to(at::kFloat), config, gen);
            if (hooks.stats) {
                hooks.stats->prefillSeconds += std::chrono::duration<double>(
                    std::chrono::steady_clock::now() - started).count();
                for (size_t i : which)
                    hooks.stats->prefillTokens += static_cast<int64_t>(prompts[i].size());
            }
            cache.appendRows(fresh);
            at::Tensor rowsMask = at::zeros({int64_t(n), mask.size(1)}, at::kBool);
            rowsMask.narrow(1, 0, p.length).copy_(p.mask);
            mask = at::cat({mask, rowsMask}, 0);
            auto acc = next.accessor<int64_t, 1>();
            for (size_t i = 0; i < n; ++i) {
                Row row{which[i], static_cast<int64_t>(prompts[which[i]].size()), pad};
                take(row, acc[i]);
                rows.push_back(row);
            }
            waiting += n;
            continue;
        }
        // One decoding step of every row (finished ones decode a pad that is never read).
        const int64_t b = static_cast<int64_t>(rows.size());
        if (cache.length() + 1 > mask.size(1))
            mask = at::cat({mask, at::zeros({b, cache.length() + 1 - mask.size(1)}, at::kBool)}, 1);
        at::Tensor ids = at::empty({b, 1}, at::kLong), positions = at::empty({b, 1}, at::kLong);
        {
            auto idAcc = ids.accessor<int64_t, 2>();
            auto posAcc = positions.accessor<int64_t, 2>();
            auto maskAcc = mask.accessor<bool, 2>();
            for (int64_t i = 0; i < b; ++i) {
                idAcc[i][0] = rows[i].last;
                posAcc[i][0] = rows[i].position++;
                maskAcc[i][cache.rowLength(i)] = true;
            }
        }
        ForwardOptions opt;
        opt.cache = &cache;
        opt.attentionMask = mask.narrow(1, 0, cache.length() + 1);
        opt.positions = positions;
        const at::Tensor logits = model.head(model.hidden(ids, opt).select(1, -1));
        const at::Tensor next = selectNextTokens(logits.to(at::kFloat), config, gen);
        auto acc = next.accessor<int64_t, 1>();
        for (int64_t i = 0; i < b; ++i)
            if (!rows[i].done)
                take(rows[i], acc[i]);
    }
    return out;
}

} // namespace qb
