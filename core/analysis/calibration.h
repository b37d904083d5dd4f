// Calibration token sequences for the analysis nodes: cut from a token stream (a dataset's text),
// sampled from the reference model itself, or drawn uniformly at random; and their batching into
// [batch, seq] int64 tensors for forward passes. Every sequence has the same length, so batches
// need no padding or attention mask.
// Thread safety: free functions; generatedSequences uses the model exclusively while it runs.
#pragma once
#include "model/transformer.h"

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace qb {

using TokenSequences = std::vector<std::vector<int64_t>>;

// Up to `samples` consecutive, non-overlapping windows of `seqLen` ids from `stream`, spread evenly
// over it when the stream holds more than samples * seqLen ids. Throws qb::Error when the stream is
// shorter than one window.
TokenSequences windowsOf(const std::vector<int64_t> &stream, int64_t samples, int64_t seqLen);

// `samples` sequences of `seqLen` ids drawn uniformly from [0, vocab), deterministic for a seed.
TokenSequences randomSequences(int64_t samples, int64_t seqLen, int64_t vocab, uint64_t seed);

// `samples` sequences of `seqLen` ids sampled from `model` at temperature 1 (no top-k/top-p, end
// tokens ignored), each starting at the BOS id when the config has one, else at a uniformly drawn
// id. Deterministic for a seed and thread count. Throws qb::Error when seqLen exceeds the model's
// positions.
TokenSequences generatedSequences(Transformer &model, int64_t samples, int64_t seqLen,
                                  uint64_t seed);

// Sequences of equal length -> [<= batchSize, seq] int64 tensors, in order. Throws qb::Error on an
// empty sequence, unequal lengths or an id outside [0, vocab).
std::vector<at::Tensor> sequenceBatches(const TokenSequences &sequences, int64_t vocab,
                                        int64_t batchSize = 8);

} // namespace qb
