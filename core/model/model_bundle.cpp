#include "model/model_bundle.h"

#include "chat/chat_template.h"
#include "model/gguf_import.h"
#include "quant/hf_quant_import.h"
#include "quant/quant_checkpoint.h"
#include "quant/quantized_linear.h"
#include "train/lora.h"
#include "util/error.h"
#include "util/files.h"

#include <algorithm>

namespace fs = std::filesystem;
using nlohmann::json;

namespace qb {

GenerationDefaults GenerationDefaults::fromJson(const json &j, const std::string &where)
{
    GenerationDefaults g;
    if (!j.is_object())
        throw Error(where + ": expected a JSON object");
    auto typed = [&](const char *key, auto &out) {
        auto it = j.find(key);
        if (it == j.end() || it->is_null())
            return;
        try {
            out = it->get<std::decay_t<decltype(out)>>();
        } catch (const json::exception &) {
            throw Error(where + ": '" + key + "' has the wrong type (" + it->dump() + ")");
        }
    };
    if (auto it = j.find("eos_token_id"); it != j.end() && !it->is_null()) {
        if (it->is_number_integer())
            g.eosTokenIds = {it->get<int64_t>()};
        else
            typed("eos_token_id", g.eosTokenIds);
    }
    typed("do_sample", g.doSample);
    typed("temperature", g.temperature);
    typed("top_p", g.topP);
    typed("top_k", g.topK);
    if (j.contains("max_new_tokens") && !j["max_new_tokens"].is_null()) {
        int64_t n = 0;
        typed("max_new_tokens", n);
        g.maxNewTokens = n;
    }
    return g;
}

std::vector<int64_t> ModelBundle::endTokens() const
{
    std::vector<int64_t> ids = model ? model->config().eosTokenIds : std::vector<int64_t>{};
    for (int64_t id : generation.eosTokenIds)
        if (std::find(ids.begin(), ids.end(), id) == ids.end())
            ids.push_back(id);
    return ids;
}

std::unique_ptr<Transformer> loadTransformer(const fs::path &dir)
{
    if (isGgufPath(dir))
        return loadGgufTransformer(dir);
    if (!fs::is_directory(dir))
        throw Error(dir.string() + ": model folder does not exist");
    if (isQuantizedCheckpoint(dir))
        return loadQuantizedModel(dir);
    if (!hfQuantMethod(dir).empty())
        return loadHfQuantized(dir);
    return Transformer::load(dir);
}

std::string renderChat(const ModelBundle &bundle, const nlohmann::ordered_json &messages,
                       bool addGenerationPrompt)
{
    const std::string name = (bundle.tokenizerDir.filename() / "chat template").string();
    if (bundle.chatTemplate.empty())
        throw Error((bundle.tokenizerDir.empty() ? std::string("model")
                                                  : bundle.tokenizerDir.string())
                    + ": the model has no chat template");
    // A bundle built in code (no folder) has no tokenizer_config.json to take tokens from.
    const nlohmann::ordered_json tokens = bundle.tokenizerDir.empty()
        ? nlohmann::ordered_json::object()
        : chat::readSpecialTokens(bundle.tokenizerDir);
    const chat::ChatTemplate chat(bundle.chatTemplate, name, tokens);
    return chat.render(messages, addGenerationPrompt);
}

void copyTokenizerFiles(const fs::path &from, const fs::path &to)
{
    for (const char *file : {"tokenizer.json", "tokenizer_config.json", "generation_config.json",
                             "special_tokens_map.json"})
        if (fs::exists(from / file))
            fs::copy_file(from / file, to / file, fs::copy_options::overwrite_existing);
}

ModelBundle loadModelBundle(const fs::path &dir)
{
    if (isGgufPath(dir))
        return loadGgufBundle(dir);
    // A PEFT adapter folder: its base model, then the adapters over it.
    if (fs::exists(dir / "adapter_config.json") && !fs::exists(dir / "config.json")) {
        const fs::path cfgFile = dir / "adapter_config.json";
        json cfg;
        try {
            cfg = json::parse(readTextFile(cfgFile));
        } catch (const json::parse_error &e) {
            throw Error(cfgFile.string() + ": invalid JSON at byte " + std::to_string(e.byte));
        }
        const std::string base = cfg.value("base_model_name_or_path", "");
        if (base.empty() || !fs::is_directory(base))
            throw Error(cfgFile.string() + ": base_model_name_or_path '" + base
                        + "' is not a model folder on this machine (adapters load over a local "
                          "base; nothing is downloaded)");
        ModelBundle b = loadModelBundle(base);
        loadLoraAdapter(*b.model, dir);
        b.provenance.dir = dir;
        b.provenance.format = "adapter";
        b.provenance.label += "+lora";
        return b;
    }
    ModelBundle b;
    b.model = loadTransformer(dir);
    b.codec = codecForModel(dir, b.model->config());
    b.chatTemplate = b.codec->chatTemplate();
    b.tokenizerDir = dir;
    const fs::path genFile = dir / "generation_config.json";
    if (fs::exists(genFile)) {
        json j;
        try {
            j = json::parse(readTextFile(genFile));
        } catch (const json::parse_error &e) {
            throw Error(genFile.string() + ": invalid JSON at byte " + std::to_string(e.byte));
        }
        b.generation = GenerationDefaults::fromJson(j, genFile.string());
    }
    b.provenance.dir = dir;
    if (isQuantizedCheckpoint(dir)) {
        b.provenance.format = "quantized";
        const json cfg = json::parse(readTextFile(dir / "config.json"));
        b.provenance.label = cfg["quantization_config"].value("label", "quantized");
        b.provenance.precision = b.provenance.label;
    } else if (const std::string m = hfQuantMethod(dir); !m.empty()) {
        // A GPTQ/AWQ folder: the label of its first quantized layer ("gptq-int4-g128-act").
        b.provenance.format = m;
        b.provenance.label = m;
        for (const auto &name : b.model->linearNames())
            if (auto q = std::dynamic_pointer_cast<QuantizedLinear>(b.model->linearPtr(name))) {
                b.provenance.label = q->kind();
                break;
            }
        b.provenance.precision = b.provenance.label;
    } else {
        b.provenance.label = dir.filename().string();
    }
    return b;
}

} // namespace qb
