#include "analysis/calibration.h"

#include "model/generation.h"
#include "util/error.h"

#include <random>

namespace qb {

TokenSequences windowsOf(const std::vector<int64_t> &stream, int64_t samples, int64_t seqLen)
{
    const int64_t n = static_cast<int64_t>(stream.size());
    if (seqLen <= 0 || samples <= 0)
        throw Error("calibration: samples and seq_len must be positive");
    if (n < seqLen)
        throw Error("calibration: the text has " + std::to_string(n)
                    + " tokens, fewer than seq_len (" + std::to_string(seqLen) + ")");
    const int64_t fit = n / seqLen;
    const int64_t count = std::min(samples, fit);
    TokenSequences out;
    for (int64_t s = 0; s < count; ++s) {
        // Window index spread over all `fit` windows so the samples cover the whole text.
        const int64_t w = count > 1 ? s * (fit - 1) / (count - 1) : 0;
        out.emplace_back(stream.begin() + w * seqLen, stream.begin() + (w + 1) * seqLen);
    }
    return out;
}

TokenSequences randomSequences(int64_t samples, int64_t seqLen, int64_t vocab, uint64_t seed)
{
    std::mt19937_64 rng(seed ^ 0x5bd1e995ULL);
    std::uniform_int_distribution<int64_t> pick(0, vocab - 1);
    TokenSequences out(samples, std::vector<int64_t>(seqLen));
    for (auto &seq : out)
        for (auto &id : seq)
            id = pick(rng);
    return out;
}

TokenSequences generatedSequences(Transformer &model, int64_t samples, int64_t seqLen,
                                  uint64_t seed)
{
    const ModelConfig &c = model.config();
    if (seqLen > c.maxPositions)
        throw Error("calibration: seq_len " + std::to_string(seqLen) + " exceeds the model's "
                    + std::to_string(c.maxPositions) + " positions");
    std::mt19937_64 rng(seed ^ 0x2545f4914f6cdd1dULL);
    std::uniform_int_distribution<int64_t> pick(0, c.vocabSize - 1);
    TokenSequences prompts(samples);
    for (auto &p : prompts)
        p = {c.bosTokenId >= 0 && c.bosTokenId < c.vocabSize ? c.bosTokenId : pick(rng)};
    DecodingConfig d;
    d.strategy = "sample";
    d.temperature = 1.0;
    d.maxNewTokens = seqLen - 1;
    d.seed = seed;
    // No end tokens: every row runs to full length.
    const auto completions = generate(model, prompts, d, {});
    for (size_t i = 0; i < prompts.size(); ++i)
        prompts[i].insert(prompts[i].end(), completions[i].begin(), completions[i].end());
    return prompts;
}

std::vector<at::Tensor> sequenceBatches(const TokenSequences &sequences, int64_t vocab,
                                        int64_t batchSize)
{
    std::vector<at::Tensor> out;
    if (sequences.empty())
        return out;
    const size_t len = sequences.front().size();
    for (size_t i = 0; i < sequences.size(); ++i) {
        if (sequences[i].empty() || sequences[i].size() != len)
            throw Error("calibration sequence " + std::to_string(i) + " has "
                        + std::to_string(sequences[i].size()) + " tokens, expected "
                        + std::to_string(len) + " (all sequences must have the same length)");
        for (int64_t id : sequences[i])
            if (id < 0 || id >= vocab)
                throw Error("calibration sequence " + std::to_string(i) + ": token id "
                            + std::to_string(id) + " is outside the vocabulary (0.."
                            + std::to_string(vocab - 1) + ")");
    }
    for (size_t b = 0; b < sequences.size(); b += batchSize) {
        const size_t n = std::min<size_t>(batchSize, sequences.size() - b);
        auto t = at::empty({static_cast<int64_t>(n), static_cast<int64_t>(len)}, at::kLong);
        for (size_t i = 0; i < n; ++i)
            std::copy(sequences[b + i].begin(), sequences[b + i].end(),
                      t.data_ptr<int64_t>() + i * len);
        out.push_back(t);
    }
    return out;
}

} // namespace qb
