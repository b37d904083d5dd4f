#include "model/model_config.h"

#include "util/error.h"
#include "util/files.h"

#include <cmath>

namespace qb {

namespace {

template <typename T>
T getOr(const nlohmann::json &j, const char *key, T fallback, const std::string &where)
{
    auto it = j.find(key);
    if (it == j.end() || it->is_null())
        return fallback;
    try {
        return it->get<T>();
    } catch (const nlohmann::json::exception &) {
        throw Error(where + ": key '" + key + "' has the wrong type (" + it->type_name() + ")");
    }
}

int64_t required(const nlohmann::json &j, const char *key, const std::string &where)
{
    if (!j.contains(key))
        throw Error(where + ": missing required key '" + key + "'");
    const int64_t v = getOr<int64_t>(j, key, 0, where);
    if (v <= 0)
        throw Error(where + ": key '" + key + "' must be positive, got " + std::to_string(v));
    return v;
}

constexpr double kPi = 3.14159265358979323846;

struct Family
{
    const char *modelType;
    const char *architecture;
};

const Family kFamilies[] = {{"llama", "LlamaForCausalLM"},
                            {"mistral", "MistralForCausalLM"},
                            {"qwen2", "Qwen2ForCausalLM"},
                            {"qwen3", "Qwen3ForCausalLM"}};

std::string supportedList(bool architectures)
{
    std::string out;
    for (const auto &f : kFamilies)
        out += std::string(out.empty() ? "" : ", ") + (architectures ? f.architecture : f.modelType);
    return out;
}

// model_type, or the family of architectures[0] when model_type is absent; both must be known and
// agree when both are given.
std::string readModelType(const nlohmann::json &j, const std::string &where)
{
    std::string fromArch;
    if (auto it = j.find("architectures"); it != j.end() && !it->is_null()) {
        if (!it->is_array() || it->empty() || !(*it)[0].is_string())
            throw Error(where + ": key 'architectures' must be a list of class names");
        const std::string arch = (*it)[0].get<std::string>();
        for (const auto &f : kFamilies)
            if (arch == f.architecture)
                fromArch = f.modelType;
        if (fromArch.empty())
            throw Error(where + ": key 'architectures' names '" + arch
                        + "', which this decoder does not run (supported: " + supportedList(true)
                        + ")");
    }
    const std::string type = getOr<std::string>(j, "model_type", fromArch.empty() ? "llama" : fromArch,
                                                where);
    bool known = false;
    for (const auto &f : kFamilies)
        known = known || type == f.modelType;
    if (!known)
        throw Error(where + ": key 'model_type' is '" + type
                    + "', which this decoder does not run (supported: " + supportedList(false) + ")");
    if (!fromArch.empty() && fromArch != type)
        throw Error(where + ": key 'architectures' names a " + fromArch + " model but key 'model_type' is '"
                    + type + "'");
    return type;
}

std::string ropeType(const nlohmann::json &scaling)
{
    if (scaling.contains("rope_type") && scaling["rope_type"].is_string())
        return scaling["rope_type"].get<std::string>();
    if (scaling.contains("type") && scaling["type"].is_string())
        return scaling["type"].get<std::string>();
    return "default";
}

double scalingNumber(const nlohmann::json &scaling, const char *key, const std::string &where)
{
    auto it = scaling.find(key);
    if (it == scaling.end() || !it->is_number())
        throw Error(where + ": key 'rope_scaling." + key + "' must be a number for rope type '"
                    + ropeType(scaling) + "'");
    return it->get<double>();
}

void checkRopeScaling(const nlohmann::json &scaling, const std::string &where)
{
    if (scaling.is_null())
        return;
    if (!scaling.is_object())
        throw Error(where + ": key 'rope_scaling' must be an object or null");
    const std::string type = ropeType(scaling);
    if (type == "default")
        return;
    if (type == "linear") {
        if (scalingNumber(scaling, "factor", where) <= 0)
            throw Error(where + ": key 'rope_scaling.factor' must be positive");
        return;
    }
    if (type == "llama3") {
        const double factor = scalingNumber(scaling, "factor", where);
        const double low = scalingNumber(scaling, "low_freq_factor", where);
        const double high = scalingNumber(scaling, "high_freq_factor", where);
        const double original = scalingNumber(scaling, "original_max_position_embeddings", where);
        if (factor <= 0 || low <= 0 || high <= low || original <= 0)
            throw Error(where + ": rope_scaling of type 'llama3' needs factor > 0, "
                        "0 < low_freq_factor < high_freq_factor and original_max_position_embeddings > 0");
        return;
    }
    throw Error(where + ": key 'rope_scaling' has rope type '" + type
                + "', which is not supported (supported: default, linear, llama3)");
}

} // namespace

std::vector<double> ropeInverseFrequencies(const ModelConfig &c)
{
    std::vector<double> inv;
    for (int64_t i = 0; i < c.headDim; i += 2)
        inv.push_back(1.0 / std::pow(c.ropeTheta, double(i) / double(c.headDim)));
    if (c.ropeScaling.is_null() || !c.ropeScaling.is_object())
        return inv;
    const std::string type = ropeType(c.ropeScaling);
    if (type == "linear") {
        const double factor = c.ropeScaling["factor"].get<double>();
        for (double &f : inv)
            f /= factor;
    } else if (type == "llama3") {
        // Wavelengths shorter than original / high_freq_factor keep their frequency, those longer
        // than original / low_freq_factor are slowed down by `factor`, and those between blend the
        // two linearly in original / wavelength.
        const auto &s = c.ropeScaling;
        const double factor = s["factor"].get<double>();
        const double low = s["low_freq_factor"].get<double>();
        const double high = s["high_freq_factor"].get<double>();
        const double original = s["original_max_position_embeddings"].get<double>();
        const double lowFreqWavelength = original / low;
        const double highFreqWavelength = original / high;
        for (double &f : inv) {
            const double wavelength = 2.0 * kPi / f;
            if (wavelength > lowFreqWavelength) {
                f /= factor;
            } else if (wavelength >= highFreqWavelength) {
                const double smooth = (original / wavelength - low) / (high - low);
                f = (1.0 - smooth) * f / factor + smooth * f;
            }
        }
    }
    return inv;
}

ModelConfig ModelConfig::fromJson(const nlohmann::json &j, const std::string &where)
{
    if (!j.is_object())
        throw Error(where + ": config is not a JSON object");
    ModelConfig c;
    c.modelType = readModelType(j, where);
    const std::string act = getOr<std::string>(j, "hidden_act", "silu", where);
    if (act != "silu" && act != "swish")
        throw Error(where + ": key 'hidden_act' is '" + act
                    + "'; this decoder's MLP is SwiGLU, which needs 'silu'");
    c.vocabSize = required(j, "vocab_size", where);
    c.hiddenSize = required(j, "hidden_size", where);
    c.intermediateSize = required(j, "intermediate_size", where);
    c.numLayers = required(j, "num_hidden_layers", where);
    c.numHeads = required(j, "num_attention_heads", where);
    c.numKvHeads = getOr<int64_t>(j, "num_key_value_heads", c.numHeads, where);
    c.headDim = getOr<int64_t>(j, "head_dim", c.hiddenSize / c.numHeads, where);
    c.maxPositions = getOr<int64_t>(j, "max_position_embeddings", 2048, where);
    c.rmsNormEps = getOr<double>(j, "rms_norm_eps", 1e-6, where);
    c.ropeTheta = getOr<double>(j, "rope_theta", 10000.0, where);
    c.tieWordEmbeddings = getOr<bool>(j, "tie_word_embeddings", false, where);
    // Qwen2 always has q/k/v bias and never an o bias; the others follow attention_bias.
    const bool attentionBias = getOr<bool>(j, "attention_bias", false, where);
    c.qkvBias = attentionBias || c.modelType == "qwen2";
    c.oBias = attentionBias && c.modelType != "qwen2";
    c.qkNorm = c.modelType == "qwen3";
    if (c.modelType == "mistral") {
        c.slidingWindow = getOr<int64_t>(j, "sliding_window", 0, where);
    } else if (c.modelType == "qwen2" || c.modelType == "qwen3") {
        if (getOr<bool>(j, "use_sliding_window", false, where)) {
            c.slidingWindow = getOr<int64_t>(j, "sliding_window", 0, where);
            // transformers' default for both families
            c.windowFromLayer = getOr<int64_t>(j, "max_window_layers", 28, where);
        }
    }
    if (c.slidingWindow < 0 || c.windowFromLayer < 0)
        throw Error(where + ": keys 'sliding_window' and 'max_window_layers' must not be negative");
    c.mlpBias = getOr<bool>(j, "mlp_bias", false, where);
    c.bosTokenId = getOr<int64_t>(j, "bos_token_id", -1, where);
    c.padTokenId = getOr<int64_t>(j, "pad_token_id", -1, where);
    if (auto it = j.find("eos_token_id"); it != j.end() && !it->is_null()) {
        if (it->is_array())
            c.eosTokenIds = it->get<std::vector<int64_t>>();
        else if (it->is_number_integer())
            c.eosTokenIds = {it->get<int64_t>()};
        else
            throw Error(where + ": key 'eos_token_id' must be an integer or a list of integers");
    }
    if (auto it = j.find("rope_scaling"); it != j.end() && !it->is_null()) {
        checkRopeScaling(*it, where);
        c.ropeScaling = *it;
    }
    if (c.numHeads % c.numKvHeads != 0)
        throw Error(where + ": num_attention_heads (" + std::to_string(c.numHeads)
                    + ") is not a multiple of num_key_value_heads ("
                    + std::to_string(c.numKvHeads) + ")");
    if (c.headDim % 2 != 0)
        throw Error(where + ": head dimension " + std::to_string(c.headDim)
                    + " must be even for rotary embeddings");
    return c;
}

ModelConfig ModelConfig::load(const std::filesystem::path &configJson)
{
    const std::string text = readTextFile(configJson);
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error &e) {
        throw Error(configJson.string() + ": invalid JSON at byte " + std::to_string(e.byte));
    }
    return fromJson(j, configJson.string());
}

nlohmann::json ModelConfig::toJson() const
{
    nlohmann::json j;
    for (const auto &f : kFamilies)
        if (modelType == f.modelType)
            j["architectures"] = {f.architecture};
    j["model_type"] = modelType;
    j["vocab_size"] = vocabSize;
    j["hidden_size"] = hiddenSize;
    j["intermediate_size"] = intermediateSize;
    j["num_hidden_layers"] = numLayers;
    j["num_attention_heads"] = numHeads;
    j["num_key_value_heads"] = numKvHeads;
    j["head_dim"] = headDim;
    j["max_position_embeddings"] = maxPositions;
    j["rms_norm_eps"] = rmsNormEps;
    j["rope_theta"] = ropeTheta;
    if (!ropeScaling.is_null())
        j["rope_scaling"] = ropeScaling;
    const nlohmann::json window = slidingWindow > 0 ? nlohmann::json(slidingWindow) : nlohmann::json();
    if (modelType == "mistral") {
        j["sliding_window"] = window;
    } else if (modelType == "qwen2" || modelType == "qwen3") {
        j["use_sliding_window"] = slidingWindow > 0;
        j["sliding_window"] = window;
        j["max_window_layers"] = slidingWindow > 0 ? windowFromLayer : numLayers;
    }
    j["tie_word_embeddings"] = tieWordEmbeddings;
    if (modelType != "qwen2")
        j["attention_bias"] = oBias;
    j["mlp_bias"] = mlpBias;
    j["hidden_act"] = "silu";
    if (bosTokenId >= 0)
        j["bos_token_id"] = bosTokenId;
    if (eosTokenIds.size() == 1)
        j["eos_token_id"] = eosTokenIds[0];
    else if (!eosTokenIds.empty())
        j["eos_token_id"] = eosTokenIds;
    if (padTokenId >= 0)
        j["pad_token_id"] = padTokenId;
    j["torch_dtype"] = "float32";
    return j;
}

int64_t ModelConfig::parameterCount() const
{
    const int64_t q = hiddenSize * numHeads * headDim;
    const int64_t kv = 2 * hiddenSize * numKvHeads * headDim;
    const int64_t o = numHeads * headDim * hiddenSize;
    const int64_t mlp = 3 * hiddenSize * intermediateSize;
    const int64_t norms = 2 * hiddenSize + (qkNorm ? 2 * headDim : 0);
    const int64_t perLayer = q + kv + o + mlp + norms;
    const int64_t embed = vocabSize * hiddenSize;
    return numLayers * perLayer + embed + (tieWordEmbeddings ? 0 : embed) + hiddenSize;
}

} // namespace qb
