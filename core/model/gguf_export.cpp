#include "model/gguf_export.h"

#include "io/gguf.h"
#include "kernels/gguf_blocks.h"
#include "model/gguf_import.h"
#include "model/model_bundle.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/files.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>

namespace fs = std::filesystem;
using nlohmann::json;

namespace qb {

namespace {

using io::GgmlType;
using io::GgufValue;

GgmlType linearType(const std::string &type)
{
    if (type == "f32")
        return GgmlType::F32;
    if (type == "f16")
        return GgmlType::F16;
    if (type == "q8_0")
        return GgmlType::Q8_0;
    return GgmlType::Q4_0;
}

// llama.cpp's llama_ftype values for the "mostly" type of the file.
uint32_t fileType(GgmlType t)
{
    switch (t) {
    case GgmlType::F32: return 0;
    case GgmlType::F16: return 1;
    case GgmlType::Q4_0: return 2;
    case GgmlType::Q8_0: return 7;
    }
    return 0;
}

struct Encoded
{
    std::vector<uint8_t> bytes;
    at::Tensor decoded; // the values the file holds, same shape as the input, float32
};

// w: [rows, cols] or [n] float32, contiguous.
Encoded encode(const at::Tensor &w, GgmlType type)
{
    const at::Tensor src = w.detach().to(at::kFloat).contiguous();
    const int64_t n = src.numel();
    const float *x = src.data_ptr<float>();
    Encoded e;
    e.bytes.resize(io::ggmlBytes(type, n));
    e.decoded = at::empty_like(src);
    float *dec = e.decoded.data_ptr<float>();
    switch (type) {
    case GgmlType::F32:
        std::memcpy(e.bytes.data(), x, n * 4);
        std::memcpy(dec, x, n * 4);
        break;
    case GgmlType::F16: {
        std::vector<uint16_t> h(static_cast<size_t>(n));
        kernels::fp32_to_fp16_row(x, n, h.data());
        std::memcpy(e.bytes.data(), h.data(), n * 2);
        kernels::fp16_to_fp32_row(h.data(), n, dec);
        break;
    }
    case GgmlType::Q8_0:
        kernels::quantize_q8_0_ref(x, n, e.bytes.data());
        kernels::dequantize_q8_0_ref(e.bytes.data(), n, dec);
        break;
    case GgmlType::Q4_0:
        kernels::quantize_q4_0_ref(x, n, e.bytes.data());
        kernels::dequantize_q4_0_ref(e.bytes.data(), n, dec);
        break;
    }
    return e;
}

at::Tensor ropeRows(const at::Tensor &t, int64_t heads, int64_t headDim)
{
    const auto order = ggufRopeRowOrder(heads, headDim);
    return t.index_select(0, at::tensor(order, at::kLong));
}

// A ByteLevel step anywhere in a pre-tokenizer or decoder (alone or inside a Sequence): the
// GPT-2 byte-to-unicode vocabulary that llama.cpp's "gpt2" type expects.
bool hasByteLevel(const json &j)
{
    if (j.is_object()) {
        if (j.value("type", "") == "ByteLevel")
            return true;
        for (const auto &[k, v] : j.items())
            if (hasByteLevel(v))
                return true;
    } else if (j.is_array()) {
        for (const auto &v : j)
            if (hasByteLevel(v))
                return true;
    }
    return false;
}

// The tokenizer.ggml.* keys llama.cpp's vocabulary loader reads. Returns what was written.
std::string writeVocabulary(io::GgufWriter &w, const std::string &tokenizerJson,
                            const ModelConfig &cfg, std::vector<std::string> &notes)
{
    if (tokenizerJson.empty()) {
        w.set("tokenizer.ggml.model", GgufValue::ofString("no_vocab"));
        notes.push_back("the model has no tokenizer.json: tokenizer.ggml.model is \"no_vocab\" "
                        "(llama.cpp loads it but can only take token ids)");
        return "none";
    }
    w.set("quantbench.tokenizer_json", GgufValue::ofString(tokenizerJson));
    const Tokenizer tok = Tokenizer::fromJson(tokenizerJson);
    const std::string model = tok.modelType();
    const bool wordLevel = model == "WordLevel";
    const json parsed = json::parse(tokenizerJson);
    const bool byteLevelBpe = model == "BPE"
        && (hasByteLevel(parsed.value("pre_tokenizer", json()))
            || hasByteLevel(parsed.value("decoder", json())));
    if (!wordLevel && !byteLevelBpe) {
        w.set("tokenizer.ggml.model", GgufValue::ofString("no_vocab"));
        notes.push_back("tokenizer.json model " + model
                        + " is kept only under quantbench.tokenizer_json; llama.cpp needs a "
                          "tokenizer.ggml vocabulary for it (written for WordLevel and "
                          "byte-level BPE only)");
        return "quantbench.tokenizer_json only (" + model + ")";
    }
    // llama.cpp sizes its vocabulary by the token list, which must match token_embd's rows.
    enum TokenType : int32_t { Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5 };
    std::vector<std::string> tokens;
    std::vector<float> scores;
    std::vector<int32_t> types;
    const auto unk = tok.unkId();
    for (int64_t id = 0; id < cfg.vocabSize; ++id) {
        std::string text = id < tok.vocabSize() ? tok.tokenText(static_cast<int32_t>(id)) : "";
        int32_t type = Normal;
        if (text.empty()) {
            text = "[PAD" + std::to_string(id) + "]";
            type = Unused;
        } else if (unk && *unk == id) {
            type = Unknown;
        } else if (tok.isSpecial(static_cast<int32_t>(id))) {
            type = Control;
        }
        tokens.push_back(std::move(text));
        scores.push_back(-static_cast<float>(id));
        types.push_back(type);
    }
    w.set("tokenizer.ggml.tokens", GgufValue::ofStrings(tokens));
    w.set("tokenizer.ggml.scores", GgufValue::ofF32s(scores));
    w.set("tokenizer.ggml.token_type", GgufValue::ofI32s(types));
    std::string what;
    if (wordLevel) {
        // SentencePiece ("llama") is the vocabulary type that takes a plain token list with
        // scores; no space prefix, since the word-level splitter drops whitespace itself.
        w.set("tokenizer.ggml.model", GgufValue::ofString("llama"));
        w.set("tokenizer.ggml.add_space_prefix", GgufValue::ofBool(false));
        what = "WordLevel as tokenizer.ggml.model \"llama\" + quantbench.tokenizer_json";
        notes.push_back("llama.cpp loads this vocabulary but tokenizes text with SentencePiece "
                        "merges and byte fallback, which a word-level vocabulary does not have: "
                        "a character that is no token (a space, for one) makes its tokenizer "
                        "fail, so give llama.cpp prompts as token ids; QuantBench's import "
                        "restores the exact word-level codec");
    } else {
        std::vector<std::string> merges;
        for (const auto &m : parsed["model"].value("merges", json::array()))
            merges.push_back(m.is_string() ? m.get<std::string>()
                                           : m.at(0).get<std::string>() + " "
                                                 + m.at(1).get<std::string>());
        w.set("tokenizer.ggml.model", GgufValue::ofString("gpt2"));
        const std::string pre = cfg.modelType == "qwen2" ? "qwen2"
            : cfg.modelType == "llama"                   ? "llama-bpe"
                                                         : "default";
        w.set("tokenizer.ggml.pre", GgufValue::ofString(pre));
        w.set("tokenizer.ggml.merges", GgufValue::ofStrings(merges));
        what = "byte-level BPE as tokenizer.ggml.model \"gpt2\" (pre \"" + pre
            + "\") + quantbench.tokenizer_json";
        notes.push_back("tokenizer.ggml.pre \"" + pre
                        + "\" is chosen by model type, not by llama.cpp's tokenizer hash check");
    }
    const auto eos = tok.eosId() ? std::optional<int64_t>(*tok.eosId())
        : cfg.eosTokenIds.empty() ? std::nullopt
                                  : std::optional<int64_t>(cfg.eosTokenIds.front());
    const auto bos = tok.bosId() ? std::optional<int64_t>(*tok.bosId())
                                 : (cfg.bosTokenId >= 0 ? std::optional<int64_t>(cfg.bosTokenId)
                                                        : eos);
    // llama.cpp rejects special ids outside the token list.
    auto setId = [&](const char *key, std::optional<int64_t> id) {
        if (id && *id >= 0 && *id < cfg.vocabSize)
            w.set(key, GgufValue::ofU32(static_cast<uint32_t>(*id)));
    };
    setId("tokenizer.ggml.bos_token_id", bos);
    setId("tokenizer.ggml.eos_token_id", eos);
    setId("tokenizer.ggml.unknown_token_id", unk);
    const auto pad = tok.padId();
    setId("tokenizer.ggml.padding_token_id", pad ? std::optional<int64_t>(*pad) : std::nullopt);
    const bool addBos = tok.bosId().has_value() && !tok.encode("", true).empty();
    w.set("tokenizer.ggml.add_bos_token", GgufValue::ofBool(addBos));
    w.set("tokenizer.ggml.add_eos_token", GgufValue::ofBool(false));
    return what;
}

} // namespace

void checkGgufExportType(const std::string &type)
{
    if (type != "f32" && type != "f16" && type != "q8_0" && type != "q4_0")
        throw Error("GGUF export type '" + type + "' is unknown (f32, f16, q8_0, q4_0)");
}

json GgufExportReport::toJson() const
{
    json t = json::array();
    for (const auto &r : tensors)
        t.push_back({{"name", r.name}, {"source", r.source}, {"type", r.type}, {"ne", r.ne},
                     {"bytes", r.bytes}, {"rel_error", r.relError},
                     {"max_abs_error", r.maxAbsError}});
    return {{"path", path}, {"architecture", architecture}, {"type", type},
            {"tokenizer", tokenizer}, {"file_bytes", fileBytes}, {"tensors", t},
            {"notes", notes}};
}

GgufExportReport exportGguf(const ModelBundle &bundle, const std::string &tokenizerJson,
                            const fs::path &out, const GgufExportOptions &options)
{
    checkGgufExportType(options.type);
    if (!bundle.model)
        throw Error("GGUF export: the bundle has no model");
    const Transformer &model = *bundle.model;
    const ModelConfig &cfg = model.config();
    if (cfg.mlpBias || (cfg.oBias && !cfg.qkvBias))
        throw Error("GGUF export: MLP or output-projection biases without q/k/v biases have no "
                    "llama.cpp architecture here");
    const bool qwen2 = cfg.modelType == "qwen2" && cfg.qkvBias && !cfg.oBias;
    const std::string arch = qwen2 ? "qwen2" : "llama";
    const GgmlType wtype = linearType(options.type);

    GgufExportReport report;
    report.path = out.string();
    report.architecture = arch;
    report.type = options.type;

    io::GgufWriter w;
    const std::string name = !options.name.empty() ? options.name
        : !bundle.provenance.dir.empty()            ? bundle.provenance.dir.stem().string()
                                                    : std::string("quantbench-model");
    auto u32 = [](int64_t v) { return GgufValue::ofU32(static_cast<uint32_t>(v)); };
    w.set("general.architecture", GgufValue::ofString(arch));
    w.set("general.name", GgufValue::ofString(name));
    w.set("general.file_type", GgufValue::ofU32(fileType(wtype)));
    w.set("general.quantization_version", GgufValue::ofU32(2));
    w.set(arch + ".vocab_size", u32(cfg.vocabSize));
    w.set(arch + ".context_length", u32(cfg.maxPositions));
    w.set(arch + ".embedding_length", u32(cfg.hiddenSize));
    w.set(arch + ".block_count", u32(cfg.numLayers));
    w.set(arch + ".feed_forward_length", u32(cfg.intermediateSize));
    w.set(arch + ".attention.head_count", u32(cfg.numHeads));
    w.set(arch + ".attention.head_count_kv", u32(cfg.numKvHeads));
    w.set(arch + ".attention.key_length", u32(cfg.headDim));
    w.set(arch + ".attention.value_length", u32(cfg.headDim));
    w.set(arch + ".rope.dimension_count", u32(cfg.headDim));
    w.set(arch + ".rope.freq_base", GgufValue::ofF32(static_cast<float>(cfg.ropeTheta)));
    w.set(arch + ".attention.layer_norm_rms_epsilon",
          GgufValue::ofF32(static_cast<float>(cfg.rmsNormEps)));
    w.set("quantbench.config_json", GgufValue::ofString(cfg.toJson().dump()));
    report.tokenizer = writeVocabulary(w, tokenizerJson, cfg, report.notes);
    if (!bundle.chatTemplate.empty())
        w.set("tokenizer.chat_template", GgufValue::ofString(bundle.chatTemplate));

    // (GGUF name, HF name, tensor, ggml type, rope heads or 0)
    struct Item
    {
        std::string gguf, hf;
        at::Tensor t;
        GgmlType type;
        int64_t ropeHeads;
    };
    std::vector<Item> items;
    const auto &tensors = model.tensors();
    items.push_back({"token_embd.weight", "model.embed_tokens.weight",
                     tensors.at("model.embed_tokens.weight"), GgmlType::F32, 0});
    auto addLinear = [&](const std::string &gguf, const std::string &hf, int64_t ropeHeads) {
        const LinearOp &op = model.linear(hf);
        GgmlType t = wtype;
        if (io::ggmlBlockSize(t) > 1 && op.inFeatures() % kernels::kGgmlBlock != 0) {
            t = GgmlType::F16;
            report.notes.push_back(hf + ": input width " + std::to_string(op.inFeatures())
                                   + " is not a multiple of 32, written as f16");
        }
        items.push_back({gguf + ".weight", hf + ".weight", op.denseWeight(), t, ropeHeads});
        if (op.bias().defined())
            items.push_back({gguf + ".bias", hf + ".bias", op.bias(), GgmlType::F32, ropeHeads});
    };
    const int64_t qRope = qwen2 ? 0 : cfg.numHeads, kRope = qwen2 ? 0 : cfg.numKvHeads;
    for (int64_t l = 0; l < cfg.numLayers; ++l) {
        const std::string b = "blk." + std::to_string(l) + ".";
        items.push_back({b + "attn_norm.weight", layerName(l, "input_layernorm.weight"),
                         tensors.at(layerName(l, "input_layernorm.weight")), GgmlType::F32, 0});
        addLinear(b + "attn_q", layerName(l, "self_attn.q_proj"), qRope);
        addLinear(b + "attn_k", layerName(l, "self_attn.k_proj"), kRope);
        addLinear(b + "attn_v", layerName(l, "self_attn.v_proj"), 0);
        addLinear(b + "attn_output", layerName(l, "self_attn.o_proj"), 0);
        items.push_back({b + "ffn_norm.weight", layerName(l, "post_attention_layernorm.weight"),
                         tensors.at(layerName(l, "post_attention_layernorm.weight")),
                         GgmlType::F32, 0});
        addLinear(b + "ffn_gate", layerName(l, "mlp.gate_proj"), 0);
        addLinear(b + "ffn_up", layerName(l, "mlp.up_proj"), 0);
        addLinear(b + "ffn_down", layerName(l, "mlp.down_proj"), 0);
    }
    items.push_back({"output_norm.weight", "model.norm.weight", tensors.at("model.norm.weight"),
                     GgmlType::F32, 0});
    if (!cfg.tieWordEmbeddings)
        addLinear("output", "lm_head", 0);

    at::NoGradGuard noGrad;
    for (size_t i = 0; i < items.size(); ++i) {
        const Item &it = items[i];
        at::Tensor src = it.t.detach().to(at::kFloat).contiguous();
        at::Tensor stored = it.ropeHeads ? ropeRows(src, it.ropeHeads, cfg.headDim) : src;
        Encoded e = encode(stored, it.type);
        GgufTensorReport r;
        r.name = it.gguf;
        r.source = it.hf;
        r.type = io::ggmlTypeName(it.type);
        r.ne = src.sizes().vec();
        std::reverse(r.ne.begin(), r.ne.end());
        r.bytes = e.bytes.size();
        const at::Tensor diff = e.decoded - stored;
        const double norm = stored.norm().item<double>();
        r.relError = norm > 0 ? diff.norm().item<double>() / norm : 0.0;
        r.maxAbsError = diff.numel() ? diff.abs().max().item<double>() : 0.0;
        w.addTensor(it.gguf, r.ne, it.type, std::move(e.bytes));
        report.tensors.push_back(std::move(r));
        if (options.progress)
            options.progress(static_cast<int64_t>(i + 1), static_cast<int64_t>(items.size()),
                             it.gguf);
    }
    w.write(out);
    report.fileBytes = fs::file_size(out);
    return report;
}

GgufExportReport exportGgufFromPath(const fs::path &model, const fs::path &out,
                                    const GgufExportOptions &options)
{
    checkGgufExportType(options.type);
    const ModelBundle bundle = loadModelBundle(model);
    std::string tokenizerJson;
    if (isGgufPath(model)) {
        const auto file = io::GgufFile::open(model);
        const auto *v = file.find("quantbench.tokenizer_json");
        if (v && v->type == io::GgufType::String)
            tokenizerJson = v->s;
    } else if (!bundle.tokenizerDir.empty() && fs::exists(bundle.tokenizerDir / "tokenizer.json")) {
        // The folder the codec came from (an adapter folder's base model, for one).
        tokenizerJson = readTextFile(bundle.tokenizerDir / "tokenizer.json");
    }
    return exportGguf(bundle, tokenizerJson, out, options);
}

} // namespace qb
