// PEFT's adapter format for saveLoraAdapter / loadLoraAdapter (train/lora.h). PEFT's
// get_peft_model_state_dict keeps the module path under the PeftModel ("base_model.model." +
// the transformers module name) and drops the adapter name, so a LlamaForCausalLM adapter holds
// "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight" [r, in] and
// ".lora_B.weight" [out, r].
#include "io/safetensors.h"
#include "train/lora.h"
#include "util/error.h"
#include "util/files.h"

#include <ATen/CPUGeneratorImpl.h>

#include <set>

namespace fs = std::filesystem;
using nlohmann::json;

namespace qb {

namespace {

const std::string kPrefix = "base_model.model.";
const std::string kSuffixA = ".lora_A.weight";
const std::string kSuffixB = ".lora_B.weight";

std::string shapeText(const std::vector<int64_t> &shape)
{
    std::string s;
    for (auto d : shape)
        s += (s.empty() ? "" : ", ") + std::to_string(d);
    return "[" + s + "]";
}

bool endsWith(const std::string &s, const std::string &tail)
{
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// The adapter settings of adapter_config.json; throws naming the file and key.
LoraConfig readAdapterConfig(const fs::path &path)
{
    const std::string where = path.string();
    json j;
    try {
        j = json::parse(readTextFile(path));
    } catch (const json::parse_error &e) {
        throw Error(where + ": invalid JSON at byte " + std::to_string(e.byte));
    }
    auto need = [&](const char *key, bool (json::*is)() const, const char *what) -> const json & {
        if (!j.contains(key) || !(j[key].*is)())
            throw Error(where + ": " + key + " must be " + what);
        return j[key];
    };
    const std::string type = need("peft_type", &json::is_string, "a string").get<std::string>();
    if (type != "LORA")
        throw Error(where + ": peft_type '" + type + "' is not supported (only LORA)");
    LoraConfig c;
    c.rank = need("r", &json::is_number_integer, "an integer").get<int>();
    if (c.rank < 1)
        throw Error(where + ": r must be >= 1");
    c.alpha = need("lora_alpha", &json::is_number, "a number").get<double>();
    if (j.contains("lora_dropout"))
        c.dropout = need("lora_dropout", &json::is_number, "a number").get<double>();
    if (j.contains("use_rslora") && !j["use_rslora"].is_null())
        c.rslora = need("use_rslora", &json::is_boolean, "true or false").get<bool>();
    if (j.contains("qa_group_size"))
        c.qaGroupSize = need("qa_group_size", &json::is_number_integer, "an integer").get<int>();
    if (j.contains("fan_in_fan_out") && j["fan_in_fan_out"] == true)
        throw Error(where + ": fan_in_fan_out true is not supported");
    if (j.contains("bias") && j["bias"] != "none")
        throw Error(where + ": bias '" + j["bias"].dump() + "' is not supported (only none)");
    return c;
}

struct AdapterPair
{
    const io::TensorInfo *a = nullptr;
    const io::TensorInfo *b = nullptr;
};

at::Tensor readTensor(const io::SafetensorsFile &file, const io::TensorInfo &info)
{
    auto v = file.readFloat32(info);
    return at::from_blob(v.data(), info.shape, at::kFloat).clone();
}

} // namespace

void saveLoraAdapter(const Transformer &model, const LoraConfig &config, const fs::path &dir,
                     const std::string &baseModelPath)
{
    std::vector<std::string> modules;
    std::vector<at::Tensor> keepAlive;
    std::vector<io::TensorWrite> writes;
    for (const auto &name : model.linearNames()) {
        const auto *l = dynamic_cast<const LoraLinear *>(&model.linear(name));
        if (!l)
            continue;
        TORCH_CHECK(l->config().rank == config.rank
                        && l->config().qaGroupSize == config.qaGroupSize,
                    "saveLoraAdapter: layer ", name, " was made with another rank or group");
        const std::string module = name.substr(name.rfind('.') + 1);
        if (std::find(modules.begin(), modules.end(), module) == modules.end())
            modules.push_back(module);
        for (const auto &[suffix, t] : {std::pair{kSuffixA, l->loraA()}, {kSuffixB, l->loraB()}}) {
            auto c = t.detach().to(at::kFloat).contiguous();
            keepAlive.push_back(c);
            writes.push_back({kPrefix + name + suffix, io::DType::F32, c.sizes().vec(),
                              c.data_ptr(), static_cast<size_t>(c.numel()) * 4});
        }
    }
    if (writes.empty())
        throw Error("saveLoraAdapter: the model has no LoRA layers");
    json cfg = {{"peft_type", "LORA"},
                {"task_type", "CAUSAL_LM"},
                {"r", config.rank},
                {"lora_alpha", config.alpha},
                {"lora_dropout", config.dropout},
                {"target_modules", modules},
                {"use_rslora", config.rslora},
                {"bias", "none"},
                {"fan_in_fan_out", false},
                {"base_model_name_or_path", baseModelPath},
                {"inference_mode", true}};
    if (config.qaGroupSize > 0)
        cfg["qa_group_size"] = config.qaGroupSize;
    fs::create_directories(dir);
    io::writeSafetensors(dir / "adapter_model.safetensors", writes, {{"format", "pt"}});
    writeFileAtomic(dir / "adapter_config.json", cfg.dump(2) + "\n");
}

LoraConfig loadLoraAdapter(Transformer &model, const fs::path &dir)
{
    const fs::path configPath = dir / "adapter_config.json";
    const fs::path weightsPath = dir / "adapter_model.safetensors";
    for (const auto &p : {configPath, weightsPath})
        if (!fs::exists(p))
            throw Error(p.string() + ": file does not exist");
    LoraConfig config = readAdapterConfig(configPath);
    const auto file = io::SafetensorsFile::open(weightsPath);
    const std::string where = weightsPath.string();
    const auto names = model.linearNames();
    const bool tied = model.config().tieWordEmbeddings;

    // Every tensor must be one half of an adapter for a linear this model has.
    std::map<std::string, AdapterPair> pairs;
    for (const auto &info : file.tensors()) {
        const std::string &t = info.name;
        const bool isA = endsWith(t, kSuffixA), isB = endsWith(t, kSuffixB);
        if (t.rfind(kPrefix, 0) != 0 || (!isA && !isB))
            throw Error(where + ": tensor '" + t + "' is not a LoRA weight (expected "
                        + kPrefix + "<layer>" + kSuffixA + " or " + kSuffixB + ")");
        const std::string layer = t.substr(kPrefix.size(), t.size() - kPrefix.size()
                                                               - kSuffixA.size());
        if (std::find(names.begin(), names.end(), layer) == names.end()
            || (layer == "lm_head" && tied))
            throw Error(where + ": tensor '" + t + "': the model has no linear layer '" + layer
                        + "'" + (layer == "lm_head" ? " (lm_head is tied to the embeddings)" : ""));
        (isA ? pairs[layer].a : pairs[layer].b) = &info;
    }
    if (pairs.empty())
        throw Error(where + ": holds no LoRA tensors");

    const int64_t g = config.qaGroupSize;
    for (const auto &[layer, p] : pairs) {
        for (const auto &[info, suffix] :
             {std::pair{p.a, kSuffixA}, std::pair{p.b, kSuffixB}})
            if (!info)
                throw Error(where + ": tensor '" + kPrefix + layer + suffix + "' is missing");
        const LinearOp &op = model.linear(layer);
        if (dynamic_cast<const LoraLinear *>(&op))
            throw Error(where + ": " + layer + " already has an adapter");
        if (g > 0 && op.inFeatures() % g != 0)
            throw Error(where + ": " + layer + ": in_features " + std::to_string(op.inFeatures())
                        + " is not a multiple of qa_group_size " + std::to_string(g));
        const int64_t inA = g > 0 ? op.inFeatures() / g : op.inFeatures();
        const std::vector<int64_t> wantA{config.rank, inA}, wantB{op.outFeatures(), config.rank};
        for (const auto &[info, want, rankDim] :
             {std::tuple{p.a, wantA, 0}, std::tuple{p.b, wantB, 1}}) {
            if (info->shape.size() == 2 && info->shape[rankDim] != config.rank)
                throw Error(where + ": tensor '" + info->name + "' has rank "
                            + std::to_string(info->shape[rankDim]) + " but "
                            + configPath.filename().string() + " says r = "
                            + std::to_string(config.rank));
            if (info->shape != want)
                throw Error(where + ": tensor '" + info->name + "' has shape "
                            + shapeText(info->shape) + ", expected " + shapeText(want));
            if (info->dtype != io::DType::F32 && info->dtype != io::DType::F16
                && info->dtype != io::DType::BF16)
                throw Error(where + ": tensor '" + info->name + "' must be F32, F16 or BF16");
        }
    }

    // Build every wrapper before the first setLinear, so an error leaves the model as it was.
    auto gen = at::make_generator<at::CPUGeneratorImpl>(0);
    std::vector<std::pair<std::string, std::shared_ptr<LoraLinear>>> ops;
    config.targets.clear();
    for (const auto &name : names) {
        auto it = pairs.find(name);
        if (it == pairs.end())
            continue;
        std::shared_ptr<LoraLinear> op;
        try {
            op = std::make_shared<LoraLinear>(model.linearPtr(name), config, gen);
        } catch (const Error &e) {
            throw Error(where + ": " + name + ": " + e.what());
        }
        at::NoGradGuard noGrad;
        op->loraA().copy_(readTensor(file, *it->second.a));
        op->loraB().copy_(readTensor(file, *it->second.b));
        ops.emplace_back(name, op);
        config.targets.push_back(name);
    }
    for (const auto &[name, op] : ops)
        model.setLinear(name, op);
    return config;
}

} // namespace qb
