// GGUF export: a Transformer and its tokenizer written as one .gguf file that llama.cpp loads
// (architecture "llama", or "qwen2" for Qwen2 models), with llama.cpp's tensor names and
// metadata keys. docs/gguf.md describes the file. Std-only header (the CLI calls it).
//
// Types: f32 (everything float32), f16 (2-D linear weights float16), q8_0 and q4_0 (linear weights
// requantized from their dense, dequantized weight into ggml's 32-value blocks). Norms, biases
// and token_embd stay float32; a linear whose input width is not a multiple of 32 falls back to
// f16 and the report says so. For arch llama the rows of attn_q / attn_k are permuted the way
// llama.cpp's convert_hf_to_gguf.py does (HF rotate-half rotary -> GGML's interleaved pairs).
// The tokenizer.json text is kept whole under "quantbench.tokenizer_json" (import restores the
// exact codec); a WordLevel vocabulary is also written as tokenizer.ggml.* (model "llama").
//
// Thread safety: exportGguf reads the model and writes one file; the caller keeps the model
// alive and unchanged meanwhile.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace qb {

struct ModelBundle;

struct GgufExportOptions
{
    std::string type = "f32"; // f32, f16, q8_0, q4_0
    std::string name;         // general.name; the model's folder or file name when empty
    // Called after each tensor: (done, total, tensor name).
    std::function<void(int64_t, int64_t, const std::string &)> progress;
};

struct GgufTensorReport
{
    std::string name;   // GGUF name, e.g. "blk.0.attn_q.weight"
    std::string source; // HF name, e.g. "model.layers.0.self_attn.q_proj.weight"
    std::string type;   // f32, f16, q8_0, q4_0
    std::vector<int64_t> ne;
    uint64_t bytes = 0;
    // ||stored - source||_F / ||source||_F of the values the file decodes to against the model's
    // (dense, dequantized) tensor, both in the model's row order. 0 for exact copies.
    double relError = 0.0;
    double maxAbsError = 0.0;
};

struct GgufExportReport
{
    std::string path;
    std::string architecture;
    std::string type;
    std::string tokenizer; // what the tokenizer metadata holds
    uint64_t fileBytes = 0;
    std::vector<GgufTensorReport> tensors;
    std::vector<std::string> notes;

    nlohmann::json toJson() const;
};

// Throws qb::Error for an unknown type name.
void checkGgufExportType(const std::string &type);

// tokenizerJson: the tokenizer.json text (empty: none). Throws qb::Error for a model llama.cpp
// has no architecture for (biases on o_proj or the MLP) or when the file cannot be written.
GgufExportReport exportGguf(const ModelBundle &bundle, const std::string &tokenizerJson,
                            const std::filesystem::path &out, const GgufExportOptions &options);

// The same for a model folder (HF dense or quantized checkpoint) or a .gguf file, with the
// tokenizer.json beside it (or inside it).
GgufExportReport exportGgufFromPath(const std::filesystem::path &model,
                                    const std::filesystem::path &out,
                                    const GgufExportOptions &options);

} // namespace qb
