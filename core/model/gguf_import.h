// GGUF import: a .gguf file (architecture "llama" or "qwen2"; tensors f32, f16, q8_0, q4_0)
// read back as a ModelBundle. Float tensors become dense float32; Q8_0 and Q4_0 linear weights
// become IntGroupLinear ops (8-/4-bit, groups of 32, symmetric with zero point 128 / 8) that
// decode to exactly the values ggml decodes. attn_q / attn_k rows of arch llama are permuted back
// to the HF rotate-half order (codes and scales alike). The codec comes from the file's
// "quantbench.tokenizer_json"; a file without it gets a codec that refuses text, with the reason.
// Errors name the file and the key or tensor (unknown architecture, missing tensor, wrong shape).
#pragma once
#include "model/model_bundle.h"
#include "model/transformer.h"

#include <filesystem>
#include <memory>
#include <vector>

namespace qb {

bool isGgufPath(const std::filesystem::path &path);

ModelBundle loadGgufBundle(const std::filesystem::path &path);
std::unique_ptr<Transformer> loadGgufTransformer(const std::filesystem::path &path);

// Row permutation of llama.cpp's convert_hf_to_gguf.py for a q or k projection with `heads`
// heads of headDim rows each: GGUF row h*hd + 2j + i holds HF row h*hd + i*hd/2 + j.
// Returns, for each GGUF row, the HF row it holds ([heads * headDim] int64 as std ints).
std::vector<int64_t> ggufRopeRowOrder(int64_t heads, int64_t headDim);

} // namespace qb
