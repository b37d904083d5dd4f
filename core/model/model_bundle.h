// ModelBundle: everything the core needs to use a model folder, from one loader: the transformer
// (dense or quantized; adapters join here), the text codec (the one way text becomes ids), the chat
// template, the generation defaults from generation_config.json, and where it came from.
// loadModelBundle is the one place that knows every folder format, so it sits at the top of
// model/ and reads quantized checkpoints through quant/quant_checkpoint.h.
// A bundle is used by one thread at a time (the transformer is not thread-safe); move-only.
#pragma once
#include "model/text_codec.h"
#include "model/transformer.h"

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace qb {

// generation_config.json (all optional): eos_token_id (int or list), do_sample, temperature,
// top_p, top_k, max_new_tokens.
struct GenerationDefaults
{
    std::vector<int64_t> eosTokenIds;
    bool doSample = false;
    double temperature = 1.0;
    double topP = 1.0;
    int64_t topK = 0;
    std::optional<int64_t> maxNewTokens;

    // Throws qb::Error naming `where` and the key for a value of the wrong type.
    static GenerationDefaults fromJson(const nlohmann::json &j, const std::string &where);
};

struct ModelProvenance
{
    std::filesystem::path dir;
    std::string format = "dense"; // "dense", "quantized", "gptq", "awq" (HF layouts), "gguf" or
                                  // "adapter"
    std::string label;            // quantization label, or the folder name for dense models
    std::string precision = "fp32";
};

struct ModelBundle
{
    std::unique_ptr<Transformer> model;
    std::shared_ptr<const TextCodec> codec;
    std::string chatTemplate; // Jinja source; empty when the tokenizer has none
    std::filesystem::path tokenizerDir; // the folder the tokenizer files came from; empty if none
    GenerationDefaults generation;
    ModelProvenance provenance;

    // Ids that end a completion: config.json's eos ids, then generation_config.json's.
    std::vector<int64_t> endTokens() const;
};

// A dense HF folder, a quantized checkpoint (quant/quant_checkpoint.h), or a PEFT adapter folder
// (adapter_config.json + adapter_model.safetensors, train/lora.h) over the local folder its
// base_model_name_or_path names, with the tokenizer of the model folder; or a .gguf file
// (model/gguf_import.h).
// Throws qb::Error naming the folder, file and tensor on anything missing or malformed.
ModelBundle loadModelBundle(const std::filesystem::path &dir);

// The bundle's chat template applied to messages (a list of {role, content}) the way transformers'
// apply_chat_template(tokenize=False) does, with the special tokens of the tokenizer folder's
// tokenizer_config.json (chat/chat_template.h). Throws qb::Error when the model has no template,
// or the template uses something the renderer does not support (naming its line).
std::string renderChat(const ModelBundle &bundle, const nlohmann::ordered_json &messages,
                       bool addGenerationPrompt);

// Copies tokenizer.json, tokenizer_config.json, generation_config.json and
// special_tokens_map.json (those present) from one model folder to another.
void copyTokenizerFiles(const std::filesystem::path &from, const std::filesystem::path &to);

// Only the transformer of such a folder (no tokenizer needed), for code that works on weights.
std::unique_ptr<Transformer> loadTransformer(const std::filesystem::path &dir);

} // namespace qb
