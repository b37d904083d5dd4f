// Number features of a vocabulary, for training a model whose numbers are whole tokens ("57",
// "0.035", "126000"). Each numeric token gets a few fixed indicator features (its units, tens and
// hundreds digits when it is an integer below 1000; its decade, its first two significant digits,
// integrality) and the trainer learns one vector per feature. A token's embedding is then
// E[t] = W[t] + F[t] . S: the free row W plus the learned vectors of its features. The model sees
// that "57" and "27" share a units digit and that "35000" is four decades above "3.5", which one
// opaque id per number hides; arithmetic on digits becomes learnable where a lookup table of sums
// is not. After training only E is kept, so the saved model is an ordinary Llama checkpoint.
// Thread safety: free functions and a plain value class; not shared between threads.
#pragma once
#include <ATen/ATen.h>

#include <optional>
#include <string>
#include <vector>

namespace qb {

// The feature indices a token's text activates (empty for a non-number). Numbers are plain
// decimals ("12", "0.5", "-3.25") or %.3e scientific ("1.234e+09").
std::vector<int> numberFeatureIndices(const std::string &token);
int numberFeatureCount();

// [vocab, numberFeatureCount()] float32: row t holds 1/sqrt(k) at the k features of token t.
at::Tensor numberFeatureMatrix(const std::vector<std::string> &tokens);

// The factored embedding during training. The model's embedding tensor stays the one the forward
// pass reads (and the tied lm_head shares); this class adds F . S to it and keeps it in step with S:
// the gradient of S is F^T . dL/dE, and after each optimiser step E moves by F . (S_new - S_old).
class FactoredEmbedding
{
public:
    // embedding: [vocab, hidden] float32 (updated in place); features: [vocab, F] float32;
    // weights: [F, hidden] float32, the learned S (the caller owns it, to checkpoint it).
    // addToEmbedding: add F . S to the embedding now (false when resuming from saved weights).
    FactoredEmbedding(at::Tensor embedding, at::Tensor features, at::Tensor weights,
                      bool addToEmbedding);

    const at::Tensor &weights() const { return m_weights; }
    void beforeStep();  // after backward: S.grad = F^T E.grad; remembers S
    void afterStep();   // after the optimiser step: E += F (S - S_before)

private:
    at::Tensor m_embedding;
    at::Tensor m_features;
    at::Tensor m_weights;
    at::Tensor m_before;
};

} // namespace qb
